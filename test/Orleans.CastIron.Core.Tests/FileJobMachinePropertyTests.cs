using CsCheck;
using Orleans.CastIron.Processing;
using Xunit.Abstractions;

namespace Orleans.CastIron.Core.Tests;

/// <summary>
/// Random histories of one file — replayed and duplicated events, slot grants, outcomes, cancels, retries, timers and
/// crashes between any two effects — run through the machine by an interpreter like the grain's, against a model of
/// the bucket, the processor runner and the status store. Every history must keep the invariants.
/// </summary>
public class FileJobMachinePropertyTests(ITestOutputHelper output)
{
    private const int Histories = 12_000;

    [Fact]
    public void RandomHistories_WithCrashesBetweenEffects_KeepEveryInvariant()
    {
        var steps = Gen.Int[0, 11].Array[1, 40];
        var count = 0;
        Gen.Select(steps, Gen.Int, Gen.Bool, Gen.Bool).Sample(
            (plan, seed, startsUnmatched, archives) =>
            {
                Interlocked.Increment(ref count);
                var world = new World(seed, startsUnmatched, archives);
                foreach (var step in plan)
                {
                    world.Step(step);
                    world.CheckAlways();
                }

                world.Quiesce();
                world.CheckAtRest();
                // Later starts (listings of inboxes and processing folders) leave a finished file alone, also after retention.
                world.RestartLater();
                world.CheckAtRest();
            },
            iter: Histories,
            threads: 1);
        output.WriteLine($"{count} random histories checked");
        Assert.True(count >= 10_000);
    }

    /// <summary>One file, its bucket, its runner and its status store, with an interpreter that can crash.</summary>
    private sealed class World
    {
        private const string Bucket = "etl";
        private const string DropKey = "team/01_inbox/data.csv";
        private readonly ProcessorConfig _config;
        private static readonly FileJobPolicy Policy = new(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30), TimeSpan.FromHours(1), MaxInterruptions: 3);

        private readonly Random _random;
        private readonly Dictionary<string, ImmutableDictionary<string, string>> _objects = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _startsPerJob = new(StringComparer.Ordinal);
        private readonly List<RunEnded> _outcomes = [];
        private readonly List<FileStatusRecord> _statusWrites = [];
        private readonly string _fileId = FileIds.ForDrop(Bucket, DropKey, "v1");
        private FileJobState _persisted = new NoJob();
        private FileJobState _current = new NoJob();
        private bool _configRegistered;
        private string? _slotRequest;
        private (string JobId, int Attempt, bool CancelAsked)? _running;
        private DateTimeOffset? _wake;
        private DateTimeOffset _now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
        private int _crashAfter = -1;
        private int _jobCounter;
        private int _finalMoves;
        private FileStatus? _firstFinal;
        private bool _retried;
        private bool _expired;
        private (bool InFlight, FileStatus Before)? _cancelAccepted;

        public World(int seed, bool startsUnmatched, bool archives)
        {
            _random = new Random(seed);
            _config = TestConfigs.Config(archive: archives ? "03_archive" : null);
            _configRegistered = !startsUnmatched;
            _objects[DropKey] = ImmutableDictionary<string, string>.Empty.Add("owner_dn", "alice");
        }

        public void Step(int kind)
        {
            switch (kind)
            {
                case 0: Seen(); break; // an event, replayed or duplicated
                case 1: Apply(new Resume(IsRunAlive())); break;
                case 2: GrantSlot(); break;
                case 3: EndRun(); break;
                case 4: Cancel(); break;
                case 5: Retry(); break;
                case 6: FireTimer(); break;
                case 7: _crashAfter = _random.Next(0, 6); break; // the next interpretation crashes after N effects
                case 8: CrashAndRestart(); break;
                case 9: _configRegistered = true; Apply(new Resume(IsRunAlive())); break;
                case 10: Apply(new SlotGranted("stale-job")); break;
                default: _now += TimeSpan.FromSeconds(_random.Next(0, 10)); break;
            }
        }

        /// <summary>Drives the file to rest: no crashes, every pending slot, run and timer served.</summary>
        public void Quiesce()
        {
            _crashAfter = -1;
            _configRegistered = true;
            for (var i = 0; i < 200; i++)
            {
                if (_current is Final || (_current is NoJob && _persisted is NoJob && !_objects.ContainsKey(DropKey)))
                {
                    return;
                }

                if (_slotRequest is not null)
                {
                    GrantSlot();
                }
                else if (_running is not null || _outcomes.Count > 0)
                {
                    EndRun(success: true);
                }
                else if (_wake is not null)
                {
                    FireTimer();
                }
                else
                {
                    // A silo start: the timer index and the inbox listing wake the job.
                    CrashAndRestart();
                }
            }

            Assert.Fail($"the file did not come to rest: {Describe()}");
        }

        public void CheckAlways()
        {
            // An attempt counts only once its processor was handed the file: the job's durable record never counts
            // more, except the one attempt being handed over (Running is persisted just before). The status store may
            // lag by one crash window; at rest it must match (CheckAtRest).
            if (_persisted.Record is { } record)
            {
                if (record.JobId is { } jobId)
                {
                    var handing = _persisted is Running ? 1 : 0;
                    Assert.True(record.Attempts <= _startsPerJob.GetValueOrDefault(jobId) + handing, $"attempts {record.Attempts} > starts {_startsPerJob.GetValueOrDefault(jobId)}: {Describe()}");
                }

                Assert.True(record.Attempts >= 0, Describe());
            }

            if (_firstFinal is { } first && !_retried)
            {
                // Exactly one final state: once final, it never changes (without a retry).
                Assert.Equal(first, _current.Record?.Status ?? first);
                Assert.True(_finalMoves <= 1, $"moved into a final folder {_finalMoves} times: {Describe()}");
            }
        }

        public void CheckAtRest()
        {
            if (_current is NoJob && _expired)
            {
                // Retention ended: the file stays at its end, and the status store keeps its final record.
                var last = _statusWrites[^1];
                Assert.True(FileStatusRules.IsFinal(last.Status), Describe());
                Assert.Contains(last.FileName, _objects.Keys);
                return;
            }

            if (_current is NoJob)
            {
                // The drop vanished before it was taken, or was never a file: nothing was made up.
                Assert.DoesNotContain(_statusWrites, s => s.Status is FileStatus.Processing or FileStatus.Complete or FileStatus.Failed);
                return;
            }

            var final = Assert.IsType<Final>(_current);
            Assert.Equal(_persisted, _current);
            var record = final.File;
            // Never stranded: the one copy of the file is where its record says, in its final folder.
            var dataObjects = _objects.Keys.Where(k => !k.EndsWith("_error_log_.txt", StringComparison.Ordinal)).ToList();
            Assert.Equal([record.FileName], dataObjects);
            var expectedFolder = record.Status switch
            {
                FileStatus.Complete => _config.ArchiveDir is null ? "team/02_processing/" : "team/03_archive/",
                FileStatus.Failed => "team/04_failed/",
                _ => record.ConfigKey is null ? "team/01_inbox/" : "team/05_canceled/",
            };
            Assert.StartsWith(expectedFolder, record.FileName, StringComparison.Ordinal);
            Assert.Equal(FileStatusRules.ToWire(record.Status), _objects[record.FileName].GetValueOrDefault("status"));
            // The status store holds the final record: no status was lost.
            Assert.Equal(record, _statusWrites[^1]);
            if (record.JobId is { } job)
            {
                Assert.True(record.Attempts <= _startsPerJob.GetValueOrDefault(job), $"attempts {record.Attempts} > starts: {Describe()}");
            }

            if (!_retried)
            {
                var inPlace = record.FileName.StartsWith("team/01_inbox/", StringComparison.Ordinal) || record.FileName.StartsWith("team/02_processing/", StringComparison.Ordinal);
                Assert.Equal(inPlace ? 0 : 1, _finalMoves);
            }

            if (_cancelAccepted is { } cancel && !_retried)
            {
                // A cancel ends Canceled, or loses to an outcome of a processor that was already running.
                Assert.True(record.Status == FileStatus.Canceled || cancel.InFlight || FileStatusRules.IsFinal(cancel.Before), $"cancel accepted but ended {record.Status}: {Describe()}");
            }
        }

        private string Describe() => $"state {_current.GetType().Name} (persisted {_persisted.GetType().Name}), objects [{string.Join(", ", _objects.Keys)}], running {_running}, slot {_slotRequest}, wake {_wake}";

        private bool IsRunAlive() =>
            _current is Running r && _running is { } run && run.JobId == r.Job.JobId && run.Attempt == r.File.Attempts;

        /// <summary>Retention passes, then the silo starts again and lists its inboxes and processing folders.</summary>
        public void RestartLater()
        {
            var starts = _startsPerJob.Values.Sum();
            _now += TimeSpan.FromDays(1);
            FireTimer();
            CrashAndRestart();
            Assert.Equal(starts, _startsPerJob.Values.Sum());
            Assert.True(_current is Final or NoJob, Describe());
        }

        private void Seen()
        {
            // The intake stats the object it was told about; a missing object is no event for a job. At start the
            // inboxes are listed, and the processing folders for tracked files (the job then knows their inbox).
            var key = _objects.Keys.FirstOrDefault(k => k.StartsWith("team/01_inbox/", StringComparison.Ordinal))
                ?? _objects.Keys.FirstOrDefault(k => k.StartsWith("team/02_processing/", StringComparison.Ordinal));
            if (key is null)
            {
                return;
            }

            var metadata = _objects[key];
            var id = FileIds.For(Bucket, key, "v1", metadata);
            if (id != _fileId || (key.StartsWith("team/02_processing/", StringComparison.Ordinal) && FileIds.OfRenamed(key, metadata) is null))
            {
                return; // another job's grain
            }

            var inbox = key.StartsWith("team/02_processing/", StringComparison.Ordinal) && _current is NoJob ? "team/01_inbox/" + key["team/02_processing/".Length..] : null;
            Apply(new ObjectSeen(Bucket, key, id, new ObjectFacts(1, "v1", "text/csv", metadata), inbox));
        }

        private void GrantSlot()
        {
            if (_slotRequest is { } jobId)
            {
                _slotRequest = null;
                Apply(new SlotGranted(jobId));
            }
        }

        private void EndRun(bool success = false)
        {
            if (_running is { } run)
            {
                _running = null;
                var kind = run.CancelAsked ? ProcessorOutcomeKind.Canceled
                    : success ? ProcessorOutcomeKind.Succeeded
                    : (ProcessorOutcomeKind)_random.Next(0, 2);
                _outcomes.Add(new RunEnded(run.JobId, run.Attempt, kind, kind == ProcessorOutcomeKind.Failed ? "exit 1" : null, "", _random.Next(2) == 0));
            }

            if (_outcomes.Count > 0)
            {
                // Reports may arrive late and more than once.
                var outcome = _outcomes[0];
                if (_random.Next(4) != 0 || success)
                {
                    _outcomes.RemoveAt(0);
                }

                Apply(outcome);
            }
        }

        private void Cancel()
        {
            var before = _current.Record?.Status;
            var inFlight = _running is not null || _outcomes.Count > 0;
            var answer = Apply(new Cancel("canceled by a user", _configRegistered ? new OwnerConfig("team/cfg.toml", _config) : null));
            if (answer is { Accepted: true } && before is { } status && _cancelAccepted is null && !_retried)
            {
                _cancelAccepted = (inFlight, status);
            }
        }

        private void Retry()
        {
            var answer = Apply(new Retry(null));
            // A crash may swallow the answer of a retry that was carried out.
            if (answer is { Accepted: true } || (_firstFinal is not null && _current is not (Final or NoJob)))
            {
                _retried = true;
            }
        }

        private void FireTimer()
        {
            if (_wake is { } at)
            {
                if (at > _now)
                {
                    _now = at;
                }

                // One-shot: removed once the wake was handled, unless the job set a new one meanwhile.
                if (Apply(new Resume(IsRunAlive())) is not null && _wake == at)
                {
                    _wake = null;
                }
            }
        }

        private void CrashAndRestart()
        {
            _current = _persisted;
            _running = null;
            _slotRequest = null;
            _outcomes.Clear();
            // At start the timer index wakes its jobs, and the listing of registered inboxes finds the rest.
            if (_wake is not null)
            {
                // Woken at start whatever its time, and kept: it still fires when due.
                Apply(new Resume(false));
            }

            Seen();
        }

        /// <summary>Interprets a trigger like the grain; returns its answer (a plain success when it had none), or null when it crashed.</summary>
        private CommandAnswer? Apply(FileJobTrigger trigger)
        {
            CommandAnswer? answer = null;
            FileJobTrigger? next = trigger;
            try
            {
                while (next is not null)
                {
                    var decision = FileJobMachine.Decide(_current, next, _now, Policy);
                    answer = decision.Answer ?? answer;
                    if (decision.Persist)
                    {
                        Assert.True(FileJobMachine.IsDurable(decision.State), $"asked to persist {decision.State.GetType().Name}");
                        // As the grain does: the timer before the state it wakes, its removal after.
                        var wake = FileJobMachine.WakeAt(decision.State, _now, Policy);
                        if (wake is not null)
                        {
                            _wake = wake;
                        }

                        _persisted = decision.State;
                        if (wake is null)
                        {
                            _wake = null;
                        }
                    }

                    _current = decision.State;
                    next = decision.Then;
                    foreach (var effect in decision.Effects)
                    {
                        if (_crashAfter == 0)
                        {
                            throw new CrashException();
                        }

                        if (_crashAfter > 0)
                        {
                            _crashAfter--;
                        }

                        if (Run(effect) is { } result)
                        {
                            next = result;
                            break;
                        }
                    }
                }
            }
            catch (CrashException)
            {
                _crashAfter = -1;
                _current = _persisted;
                _running = null;
                _slotRequest = null;
                _outcomes.Clear();
                return null;
            }

            return answer ?? new CommandAnswer(true, "");
        }

        private FileJobTrigger? Run(FileJobEffect effect)
        {
            switch (effect)
            {
                case MoveObject move:
                    if (_objects.Remove(move.From, out _))
                    {
                        _objects[move.To] = move.Metadata;
                        if (move.To.Contains("03_archive", StringComparison.Ordinal) || move.To.Contains("04_failed", StringComparison.Ordinal) || move.To.Contains("05_canceled", StringComparison.Ordinal))
                        {
                            _finalMoves++;
                        }
                    }
                    else if (_objects.ContainsKey(move.To))
                    {
                        _objects[move.To] = move.Metadata;
                    }
                    else if (!move.MissingOk)
                    {
                        return new ObjectMissing();
                    }

                    return null;
                case WriteErrorLog log:
                    _objects[log.Key] = log.Metadata;
                    return null;
                case WriteStatus write:
                    _statusWrites.Add(write.Record);
                    if (FileStatusRules.IsFinal(write.Record.Status) && _firstFinal is null)
                    {
                        _firstFinal = write.Record.Status;
                    }

                    return null;
                case PublishJobEvent:
                    return null;
                case MatchConfig:
                    return _configRegistered
                        ? new Matched("team/cfg.toml", _config, $"job-{++_jobCounter}", _random.Next(1, 4), TimeSpan.FromSeconds(30))
                        : new NoMatch();
                case RequestSlot request:
                    _slotRequest = request.JobId;
                    return null;
                case StartRun start:
                    Assert.Null(_running);
                    _running = (start.Job.JobId, start.Attempt, false);
                    _startsPerJob[start.Job.JobId] = _startsPerJob.GetValueOrDefault(start.Job.JobId) + 1;
                    return null;
                case CancelRun cancel:
                    if (_running is { } run && run.JobId == cancel.JobId)
                    {
                        _running = run with { CancelAsked = true };
                    }

                    return null;
                case ScheduleWake wake:
                    _wake = wake.At;
                    return null;
                case CancelWake:
                    _wake = null;
                    return null;
                case ClearState:
                    _expired = _persisted is Final;
                    _persisted = new NoJob();
                    _wake = null;
                    return null;
                case ForwardTo or Reject:
                    return null;
                default:
                    throw new InvalidOperationException($"unknown effect {effect}");
            }
        }
    }

    private sealed class CrashException : Exception;
}
