"""The custom metrics the pipeline's functions publish, by name: the alarms and dashboard read these.

Powertools publishes them in the namespace POWERTOOLS_METRICS_NAMESPACE with the single dimension
`service` = POWERTOOLS_SERVICE_NAME; both are the project name (see `stacks/components/project_function.py`).
"""

from __future__ import annotations

from typing import Final

METRICS_NAMESPACE: Final = "bedrock-distill"
METRICS_SERVICE_DIMENSION: Final = {"service": METRICS_NAMESPACE}

# Published by the sweeper on every run (0 when there is nothing to report), so alarms see data.
OVERDUE_PROVISIONED_THROUGHPUTS: Final = "OverdueProvisionedThroughputs"  # alive longer than the maximum lifetime
OLDEST_PROVISIONED_THROUGHPUT_AGE_SECONDS: Final = "OldestProvisionedThroughputAgeSeconds"
# Published by the sweeper and by the execution-end cleanup: what they had to clean up after a run.
PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND: Final = "ProvisionedThroughputsDeletedOutOfBand"
JOBS_STOPPED_OUT_OF_BAND: Final = "JobsStoppedOutOfBand"
# Published by the upload trigger.
EXECUTIONS_STARTED_FROM_UPLOADS: Final = "ExecutionsStartedFromUploads"
DUPLICATE_UPLOAD_EVENTS: Final = "DuplicateUploadEvents"
