"""bedrock-distill: Amazon Bedrock Model Distillation as code.

Domain code shared by the Lambda functions and the ``distill`` CLI. Nothing here imports
Lambda or CDK modules.
"""
