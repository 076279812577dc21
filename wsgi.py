from webapp import create_app, geo, signing
from webapp.proofing import engine

app = create_app()
# The server refuses to start without a key to sign QR tokens with (instance/signing_keys; `make run` makes one).
signing.check_keys(app)
# Load the place-name boundaries now, in the gunicorn master (preload_app): every worker then shares them
# instead of the first applicant in each worker waiting for them.
geo.warm()
# Likewise Pillow's image readers, which the first 实人核验 upload in each worker would load (webapp.proofing.engine).
engine.warm_headers()
