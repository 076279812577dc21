from webapp import create_app, geo

app = create_app()
# Load the place-name boundaries now, in the gunicorn master (preload_app): every worker then shares them
# instead of the first applicant in each worker waiting for them.
geo.warm()
