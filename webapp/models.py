"""Import every domain's models so Base.metadata knows all tables (Alembic autogenerate, tests)."""
from webapp.accounts import models as accounts_models  # noqa: F401
from webapp.audit import models as audit_models  # noqa: F401
from webapp.driving_licence import models as driving_licence_models  # noqa: F401
from webapp.notify import models as notify_models  # noqa: F401
from webapp.officer import models as officer_models  # noqa: F401
from webapp.proofing import models as proofing_models  # noqa: F401
from webapp.registry import models as registry_models  # noqa: F401
from webapp.travel_id import models as travel_id_models  # noqa: F401
