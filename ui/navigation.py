"""The app's pages: script, title, icon and address (``streamlit_app.py`` registers them with ``st.navigation``;
``app.py`` answers their addresses). Plain data: importing it runs no Streamlit command."""

PAGES = (  # (script, title, icon, URL path; "" for the home page at /)
    ("app_pages/home.py", "Home", "🧠", ""),
    ("app_pages/iris.py", "Iris", "🌸", "Iris"),
    ("app_pages/mnist_cnn.py", "MNIST CNN", "🔢", "MNIST_CNN"),
    ("app_pages/cvae.py", "CVAE", "🌀", "CVAE"),
    ("app_pages/runs.py", "Runs", "📊", "Runs"),
)
URL_PATHS = tuple(path for *_, path in PAGES if path)
