"""`make demo`: the whole pipeline offline, event-driven, from a teacher's invocation logs to a torn-down PT.

Runs on moto and the project's Bedrock emulator, in this process, with no network and no AWS account:

1. deploys the pipeline into moto from the stack's own definitions (`world`: `offline.pipeline.LocalPipeline`),
   its EventBridge rules included, with the emulator's job state-change events going to moto's EventBridge;
2. plays three scenes (`scenes/`):
   - `invocation_logs`: installs the account's invocation logging with the stack's own custom-resource handler,
     sends generated customer-support tickets (`tickets`) to the teacher through Converse with
     `requestMetadata`, and distils from those logs through a metadata filter; the run is followed live
     (`follow`): its job wait is a callback, released by the job's Completed event (the fallback poll is an
     hour); then its summary (`summary`): job, custom model, how the job wait ended and what it cost in state
     transitions, training-loss curve (PNG and sparkline), validation and estimated cost;
   - `upload`: uploads a dataset and its settings file under the upload trigger prefix: the upload starts a run
     by itself, with the settings applied;
   - `forgotten_pt`: stops a run that has bought its Provisioned Throughput, as a person would: the
     execution-end rule deletes the PT and reports it, and one firing of the sweep schedule finds nothing left;
3. checks that no Provisioned Throughput is left and that no call was denied (`check`).

`python -m offline.demo` (`__main__`) sets the process environment first (`environment`), then runs `main`.
Exit code 0 when every run ended as shown (the two runs succeeded; the stopped one was cleaned up by the
execution-end rule and the sweep found nothing) and no Provisioned Throughput is left, 1 otherwise.
"""
