"""Demo mode only (``SUISHEN_DEMO=1``): the demo data and logins ``flask --app app registry demo`` writes
(:mod:`.data`) and the self-enrolment page where a visitor puts their own portrait into the registry to try
实人核验 (:mod:`.views`). It composes the registry, proofing's face engine, accounts and officers, so it sits above
them, next to ``create_app``; no domain imports it."""
