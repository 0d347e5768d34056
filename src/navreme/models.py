"""Every domain's tables, imported in one place for Alembic and the drift check."""

from navreme.audit import models as audit_models
from navreme.cases import models as cases_models
from navreme.catalogue import models as catalogue_models
from navreme.db import Base
from navreme.identity import models as identity_models
from navreme.messaging import models as messaging_models
from navreme.registry import models as registry_models
from navreme.rules import models as rules_models
from navreme.scheduling import models as scheduling_models
from navreme.web import idempotency as idempotency_models

metadata = Base.metadata

__all__ = [
    "audit_models",
    "cases_models",
    "catalogue_models",
    "identity_models",
    "idempotency_models",
    "messaging_models",
    "metadata",
    "registry_models",
    "rules_models",
    "scheduling_models",
]
