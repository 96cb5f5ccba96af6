"""The app's pages: script, title, icon and address (``streamlit_app.py`` registers them with ``st.navigation``;
``app.py`` answers their addresses), and the page of each model kind. The one place that names a page script;
everything else reads it from here. Plain data: importing it runs no Streamlit command."""

HOME, IRIS, MNIST_CNN, CVAE, RUNS = ("app_pages/home.py", "app_pages/iris.py", "app_pages/mnist_cnn.py",
                                     "app_pages/cvae.py", "app_pages/runs.py")
TABLE = "app_pages/table.py"
PLAYGROUND = "app_pages/playground.py"

PAGES = (  # (script, title, icon, URL path; "" for the home page at /)
    (HOME, "Home", "🧠", ""),
    (IRIS, "Iris", "🌸", "Iris"),
    (PLAYGROUND, "Playground", "🎛️", "Playground"),
    (TABLE, "Your table", "📋", "Your_table"),
    (MNIST_CNN, "MNIST CNN", "🔢", "MNIST_CNN"),
    (CVAE, "CVAE", "🌀", "CVAE"),
    (RUNS, "Runs", "📊", "Runs"),
)
URL_PATHS = tuple(path for *_, path in PAGES if path)
TITLE_AND_ICON = {script: (title, icon) for script, title, icon, _ in PAGES}

# The page of each model kind, for links and st.switch_page.
PAGE_OF = {"iris": IRIS, "cnn": MNIST_CNN, "cnn_finetune": MNIST_CNN, "cvae": CVAE, "latent": CVAE, "tabular": TABLE, "plane": PLAYGROUND}
