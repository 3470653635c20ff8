"""IAM, enforced offline: the synthesized template's policies decide every AWS call a function makes.

`policy` evaluates identity-based policies as AWS documents it; `requests` says which action, resources and
context keys each call is authorized as; `template` reads each function's role out of the template `cdk deploy`
uploads; `enforcer` refuses, at botocore's `before-call`, any call the caller's policies do not allow.
"""
