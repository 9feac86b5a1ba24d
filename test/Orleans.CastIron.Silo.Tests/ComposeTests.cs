using System.Diagnostics;
using System.Text.RegularExpressions;
using Orleans.CastIron.Kafka;
using YamlDotNet.RepresentationModel;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// The production stack as shipped: <c>docker-compose.yml</c> validated by Debian's docker-compose (no engine runs
/// here), and checked against the code it deploys: variables the silo reads, the topics it uses, MinIO's notification
/// target, pinned images, health checks and start order, and the Dockerfile's ports and health route.
/// </summary>
public sealed partial class ComposeTests
{
    private static readonly string Root = FindRoot();

    private static readonly YamlMappingNode Services = (YamlMappingNode)Load()["services"];

    private static YamlMappingNode Service(string name) => (YamlMappingNode)Services[name];

    /// <summary>A service's environment, with YAML merge keys (<c>&lt;&lt;: *credentials</c>) applied as compose does.</summary>
    private static Dictionary<string, string> Environment(string service)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(YamlMappingNode mapping)
        {
            foreach (var (key, value) in mapping.Children.Select(kv => (((YamlScalarNode)kv.Key).Value!, kv.Value)))
            {
                if (key == "<<")
                {
                    Add((YamlMappingNode)value);
                }
                else
                {
                    environment[key] = ((YamlScalarNode)value).Value!;
                }
            }
        }

        Add((YamlMappingNode)Service(service)["environment"]);
        return environment;
    }

    [Fact]
    public async Task TheComposeFile_IsValid_ForDockerCompose()
    {
        var start = new ProcessStartInfo("docker-compose") { WorkingDirectory = Root, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { "-f", "docker-compose.yml", "config", "-q" })
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("docker-compose is not installed (.ci/run installs Debian's docker-compose)", ex);
        }

        using (process)
        {
            var errors = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, $"docker-compose config: {errors}");
        }
    }

    [Fact]
    public void TheSilosEnvironment_UsesOnlyVariablesTheSiloReads()
    {
        var unknown = Environment("silo").Keys
            .Where(v => !SeedEnvironment.Map.ContainsKey(v) && !v.StartsWith("CastIron__", StringComparison.Ordinal) && !v.StartsWith("ASPNETCORE_", StringComparison.Ordinal) && !v.StartsWith("DOTNET_", StringComparison.Ordinal))
            .ToList();

        Assert.Empty(unknown);
        Assert.Contains("CASTIRON_REDIS", Environment("silo").Keys);
    }

    [Fact]
    public void Topics_AreTheOnesTheSiloUses_WithTheirDeadLetterTopics_AndMinioNotifiesTheSourceTopic()
    {
        var defaults = new CastIronKafkaOptions();
        var script = string.Join("\n", ((YamlSequenceNode)Service("kafka-topics")["command"]).Children.Select(c => ((YamlScalarNode)c).Value));
        var created = TopicList().Matches(script).SelectMany(m => m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToHashSet(StringComparer.Ordinal);
        string[] topics = [defaults.SourceFileTopic, defaults.TextPayloadTopic, defaults.VideoPayloadTopic];

        Assert.Superset(topics.Concat(topics.Select(t => t + "-dlq")).Append(defaults.PizzaTrackerTopic).ToHashSet(StringComparer.Ordinal), created);
        Assert.Equal(defaults.SourceFileTopic, Environment("minio")["MINIO_NOTIFY_KAFKA_TOPIC_SOURCE"]);
        Assert.Equal("on", Environment("minio")["MINIO_NOTIFY_KAFKA_ENABLE_SOURCE"]);
        Assert.Equal(new Storage.S3.S3StorageOptions().NotificationArn, Environment("silo")["MINIO_NOTIFICATION_ARN_ETL_SOURCE_FILE"]);
        Assert.Equal("kafka:9092", Environment("silo")["KAFKA_BROKER"]);
    }

    [Fact]
    public void Images_ArePinned_LongRunningServicesHaveHealthChecks_AndSilosStartAfterTheirDependencies()
    {
        foreach (var (name, node) in Services.Children.Select(kv => (((YamlScalarNode)kv.Key).Value!, (YamlMappingNode)kv.Value)))
        {
            var image = ((YamlScalarNode)node["image"]).Value!;
            Assert.True(image.Contains(':', StringComparison.Ordinal) && !image.EndsWith(":latest", StringComparison.Ordinal), $"{name}: image '{image}' is not pinned");
            if (name != "kafka-topics")
            {
                Assert.True(node.Children.ContainsKey("healthcheck"), $"{name} has no healthcheck");
            }
        }

        var dependsOn = (YamlMappingNode)Service("silo")["depends_on"];
        string Condition(string service) => ((YamlScalarNode)((YamlMappingNode)dependsOn[service])["condition"]).Value!;
        Assert.All(["kafka", "minio", "clickhouse", "redis"], s => Assert.Equal("service_healthy", Condition(s)));
        Assert.Equal("service_completed_successfully", Condition("kafka-topics"));
    }

    [Fact]
    public void TheDockerfile_PublishesTheSilo_ExposesItsPorts_AndChecksTheLivenessRoute()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Root, "silo", "Dockerfile"));
        var publish = PublishedProject().Match(dockerfile);

        Assert.True(publish.Success, "the Dockerfile publishes no project");
        Assert.True(File.Exists(Path.Combine(Root, publish.Groups[1].Value)), $"{publish.Groups[1].Value} does not exist");
        var exposed = ExposeLine().Match(dockerfile).Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Superset(new HashSet<string> { "8002", "11111", "30000" }, exposed.ToHashSet());
        Assert.Contains("http://localhost:8002/health/live", dockerfile, StringComparison.Ordinal);
        Assert.Contains("\"--urls\", \"http://0.0.0.0:8002\"", dockerfile, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^USER app$", dockerfile);
        Assert.True(File.Exists(Path.Combine(Root, "silo", "nginx.conf")), "the API proxy's config is missing");
    }

    private static YamlMappingNode Load()
    {
        using var reader = new StreamReader(Path.Combine(Root, "docker-compose.yml"));
        var yaml = new YamlStream();
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    private static string FindRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Orleans.CastIron.sln")))
        {
            folder = folder.Parent;
        }

        return folder?.FullName ?? throw new InvalidOperationException("the repository root was not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"for topic in ([^;]+);")]
    private static partial Regex TopicList();

    [GeneratedRegex(@"dotnet publish (\S+\.csproj)")]
    private static partial Regex PublishedProject();

    [GeneratedRegex(@"(?m)^EXPOSE (.+)$")]
    private static partial Regex ExposeLine();
}
