"""One gateway per AWS service. Each maps its service's errors once, to the named errors of
`bedrock_distill.workflow.errors`; nothing outside this package touches a boto3 client."""
