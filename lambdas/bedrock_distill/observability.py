"""The custom metrics the pipeline's functions publish, by name: the alarms and dashboard read these.

Powertools publishes them in the namespace POWERTOOLS_METRICS_NAMESPACE with the single dimension
`service` = POWERTOOLS_SERVICE_NAME; `stacks/components/project_function.py` sets both from here.
"""

from __future__ import annotations

from typing import Final

from bedrock_distill.project import PROJECT_NAME

METRICS_NAMESPACE: Final = PROJECT_NAME
SERVICE_NAME: Final = PROJECT_NAME
METRICS_SERVICE_DIMENSION: Final = {"service": SERVICE_NAME}

# Published by the workflow's functions, one datapoint per call.
TRAINING_RECORDS: Final = "TrainingRecords"
JOBS_CREATED: Final = "JobsCreated"
PROVISIONED_MODEL_UNITS_CREATED: Final = "ProvisionedModelUnitsCreated"
PROVISIONED_THROUGHPUTS_DELETED: Final = "ProvisionedThroughputsDeleted"
MODEL_DEPLOYMENTS_CREATED: Final = "ModelDeploymentsCreated"
MODEL_DEPLOYMENTS_DELETED: Final = "ModelDeploymentsDeleted"
VALIDATION_PROMPTS_FAILED: Final = "ValidationPromptsFailed"
TEACHER_PROMPTS_FAILED: Final = "TeacherPromptsFailed"
EVALUATION_JOBS_CREATED: Final = "EvaluationJobsCreated"
# Published by Score: the student's share of the teacher's mean score on the decision metric, in percent (100: as
# good), and 1 for a promote decision, 0 for hold.
STUDENT_SCORE_SHARE: Final = "StudentScoreShare"
STUDENT_PROMOTED: Final = "StudentPromoted"

# Published by the sweeper on every run (0 when there is nothing to report), so alarms see data.
OVERDUE_PROVISIONED_THROUGHPUTS: Final = "OverdueProvisionedThroughputs"  # alive longer than the maximum lifetime
OLDEST_PROVISIONED_THROUGHPUT_AGE_SECONDS: Final = "OldestProvisionedThroughputAgeSeconds"
# Custom model deployments alive longer than the maximum lifetime and not kept (keepDeployment on a SUCCEEDED run).
OVERDUE_MODEL_DEPLOYMENTS: Final = "OverdueModelDeployments"
# Published by the sweeper and by the execution-end cleanup: what they had to clean up after a run.
PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND: Final = "ProvisionedThroughputsDeletedOutOfBand"
JOBS_STOPPED_OUT_OF_BAND: Final = "JobsStoppedOutOfBand"
MODEL_DEPLOYMENTS_DELETED_OUT_OF_BAND: Final = "ModelDeploymentsDeletedOutOfBand"
EVALUATION_JOBS_STOPPED_OUT_OF_BAND: Final = "EvaluationJobsStoppedOutOfBand"
# Published by the upload trigger.
EXECUTIONS_STARTED_FROM_UPLOADS: Final = "ExecutionsStartedFromUploads"
DUPLICATE_UPLOAD_EVENTS: Final = "DuplicateUploadEvents"
