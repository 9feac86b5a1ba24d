namespace Orleans.CastIron.Core.Tests;

public class JobEventJsonTests
{
    [Fact]
    public void JobCreated_HasTheSeedsFieldsInOrder()
    {
        var json = JobEventJson.Serialize(JobEvent.Created("Abc+/22", "7460-test.csv", "example_config.toml", "castiron"));

        Assert.Equal("""{"type":"job_created","job_id":"Abc+/22","filename":"7460-test.csv","handler":"example_config.toml","uploader":"castiron"}""", json);
    }

    [Theory]
    [MemberData(nameof(Updates))]
    public void JobUpdate_CarriesOneField(JobEvent jobEvent, string expected)
    {
        Assert.Equal(expected, JobEventJson.Serialize(jobEvent));
        Assert.Equal(jobEvent, JobEventJson.TryParse(expected));
    }

    public static TheoryData<JobEvent, string> Updates() => new()
    {
        { JobEvent.StatusUpdate("j1", JobEventStatus.Success), """{"type":"job_update","job_id":"j1","status":"success"}""" },
        { JobEvent.StatusUpdate("j1", JobEventStatus.Failure), """{"type":"job_update","job_id":"j1","status":"failure"}""" },
        { JobEvent.StatusUpdate("j1", JobEventStatus.Canceled), """{"type":"job_update","job_id":"j1","status":"canceled"}""" },
        { JobEvent.ProgressUpdate("j1", 0.4), """{"type":"job_update","job_id":"j1","progress":0.4}""" },
        { JobEvent.ProgressUpdate("j1", 1), """{"type":"job_update","job_id":"j1","progress":1}""" },
        { JobEvent.TaskUpdate("j1", "parsing \"rows\" é"), """{"type":"job_update","job_id":"j1","task":"parsing \"rows\" é"}""" },
        { JobEvent.CommittedUpdate("j1", 10), """{"type":"job_update","job_id":"j1","committed":10}""" },
    };

    [Fact]
    public void ConfigError_ListsTheErrors_AndRoundTrips()
    {
        var configError = JobEvent.ConfigErrors("proj/cfg.toml", ["(4,1) castiron.etl.inbox_dri: unknown key", "castiron.etl.inbox_dir: missing"]);

        var json = JobEventJson.Serialize(configError);

        Assert.Equal("""{"type":"config_error","job_id":"proj/cfg.toml","errors":["(4,1) castiron.etl.inbox_dri: unknown key","castiron.etl.inbox_dir: missing"]}""", json);
        var parsed = JobEventJson.TryParse(json)!;
        Assert.Equal(configError.Errors.ToArray(), parsed.Errors.ToArray());
        Assert.Throws<ArgumentException>(() => JobEventJson.Serialize(JobEvent.ConfigErrors("k", [])));
    }

    [Fact]
    public void JobCreated_RoundTrips()
    {
        var created = JobEvent.Created("j", "f", "h", "u");

        Assert.Equal(created, JobEventJson.TryParse(JobEventJson.Serialize(created)));
    }

    [Fact]
    public void IncompleteEvents_AreRefusedBeforePublishing()
    {
        Assert.Throws<ArgumentException>(() => JobEventJson.Serialize(new JobEvent { Type = JobEventType.JobUpdate, JobId = "j" }));
        Assert.Throws<ArgumentException>(() => JobEventJson.Serialize(new JobEvent { Type = JobEventType.JobUpdate, JobId = "j", Task = "t", Committed = 1 }));
        Assert.Throws<ArgumentException>(() => JobEventJson.Serialize(JobEvent.StatusUpdate("", "success")));
        Assert.Throws<ArgumentException>(() => JobEventJson.Serialize(JobEvent.ProgressUpdate("j", 1.5)));
        Assert.Throws<ArgumentException>(() => JobEventJson.Serialize(new JobEvent { Type = JobEventType.JobCreated, JobId = "j", Filename = "f" }));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{}")]
    [InlineData("[]")]
    [InlineData("""{"type":"job_update","job_id":"j"}""")]
    [InlineData("""{"type":"job_deleted","job_id":"j","status":"x"}""")]
    [InlineData("""{"type":"job_update","job_id":7,"status":"x"}""")]
    public void TryParse_RefusesWhatIsNotAJobEvent(string json) => Assert.Null(JobEventJson.TryParse(json));
}
