"""`make demo`: the whole pipeline offline, event-driven, from a teacher's invocation logs to a judged student,
in two Regions, with nothing left billing.

Runs on moto and the project's Bedrock emulator, in this process, with no network and no AWS account, in two
worlds one after the other (`world`), each the stack synthesized for its Region and deployed into moto
(`offline.pipeline.LocalPipeline`), its EventBridge rules included, with the emulator's job state-change events
going to moto's EventBridge:

1. us-west-2, the Llama pair (AWS offers no on-demand deployment for its student: Provisioned Throughput):
   - `invocation_logs`: installs the account's invocation logging with the stack's own custom-resource handler,
     sends a logical day of generated customer-support tickets (`tickets`) to the teacher through Converse with
     `requestMetadata`, and distils from those logs through a metadata filter; the run is followed live
     (`follow`): its job wait is a callback, released by the job's Completed event (the fallback poll is an
     hour); its student answers the held-out prompts on a PT deleted before the judge runs, the teacher answers
     them on demand, and one evaluation job per side judges them; then its summary (`summary`): job, custom
     model, how the job wait ended and what it cost in state transitions, training-loss curve (PNG and
     sparkline), validation, estimated cost, serving choice and the scorecard with its decision (text, PNG, JSON);
   - `upload`: uploads a dataset and its settings file under the upload trigger prefix: the upload starts a run
     by itself, with the settings applied;
   - `forgotten_pt`: stops a run that has bought its Provisioned Throughput, as a person would: the
     execution-end rule deletes the PT and reports it, and one firing of the sweep schedule finds nothing left;
2. us-east-1, the Nova pair: `invocation_logs` again, its student deployed for on-demand inference (no PT),
   the deployment deleted once the student has answered, both sides judged; its stack is synthesized in the
   background while the first world plays;
3. each world closes with the check (`check`): no Provisioned Throughput, no custom model deployment (the demo
   keeps none) and no running evaluation job left, and no call denied.

`python -m offline.demo` (`__main__`) sets the process environment first (`environment`), then runs `main`.
Exit code 0 when every run ended as shown (the judged runs and the upload's succeeded, the stopped one was
cleaned up by the execution-end rule and the sweep found nothing) and nothing is left in either world, 1 otherwise.
"""
