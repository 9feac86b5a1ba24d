using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Kafka;
using Orleans.CastIron.Storage.S3;
using Orleans.Configuration;
using YamlDotNet.RepresentationModel;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// docker-compose.yml, silo/Dockerfile and the API front's nginx configuration, checked against the code they deploy:
/// the file is valid for docker-compose, and its topics, variables, ARN, ports and paths are the ones the silo uses.
/// No Docker engine is needed (nor started): docker-compose validates offline.
/// </summary>
public partial class ComposeTests
{
    private const string SiloProject = "silo/Orleans.CastIron.Silo/Orleans.CastIron.Silo.csproj";

    private const string CliProject = "src/Orleans.CastIron.Cli/Orleans.CastIron.Cli.csproj";

    /// <summary>The cluster variables the silo reads besides the seed's (Redis clustering, cluster and service ids).</summary>
    private static readonly string[] ClusterVariables = ["CASTIRON_REDIS", "CASTIRON_CLUSTER_ID", "CASTIRON_SERVICE_ID"];

    private static readonly string Root = FindRepositoryRoot();
    private static readonly string ComposePath = Path.Combine(Root, "docker-compose.yml");
    private static readonly string DockerfilePath = Path.Combine(Root, "silo", "Dockerfile");

    [Fact]
    public async Task ComposeFile_IsValid_ForDockerCompose()
    {
        var (exitCode, output) = await DockerComposeAsync("-f", ComposePath, "config", "-q");

        Assert.True(exitCode == 0, $"docker-compose config rejected docker-compose.yml (exit code {exitCode}):\n{output}");
    }

    [Fact]
    public async Task ComposeValidation_RejectsABrokenFile()
    {
        // The check above can fail: the same file with a dependency condition Compose does not know is refused.
        var folder = Directory.CreateTempSubdirectory("castiron-compose-");
        try
        {
            var broken = Path.Combine(folder.FullName, "docker-compose.yml");
            await File.WriteAllTextAsync(broken, (await File.ReadAllTextAsync(ComposePath)).Replace("condition: service_healthy", "condition: service_ready", StringComparison.Ordinal));

            var (exitCode, output) = await DockerComposeAsync("-f", broken, "--project-directory", Root, "config", "-q");

            Assert.NotEqual(0, exitCode);
            Assert.Contains("service_ready", output, StringComparison.Ordinal);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void ProjectName_IsCastiron()
    {
        // Compose v1 has no top-level `name:`; both versions read COMPOSE_PROJECT_NAME from .env beside the file.
        var env = File.ReadAllLines(Path.Combine(Root, ".env"))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split('=', 2))
            .ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "", StringComparer.Ordinal);

        Assert.Equal("castiron", env["COMPOSE_PROJECT_NAME"]);
        Assert.False(Compose().Children.ContainsKey(new YamlScalarNode("name")), "a top-level name: makes Compose v1 reject the file");
    }

    [Fact]
    public void SiloEnvironment_HasOnlyVariablesTheSiloReads()
    {
        var unknown = Environment(Service("silo")).Keys
            .Where(v => !SeedEnvironment.Map.Keys.Contains(v, StringComparer.Ordinal)
                && !ClusterVariables.Contains(v, StringComparer.Ordinal)
                && !v.StartsWith("CastIron__", StringComparison.Ordinal)
                && !v.StartsWith("ASPNETCORE_", StringComparison.Ordinal)
                && !v.StartsWith("DOTNET_", StringComparison.Ordinal))
            .ToList();

        Assert.True(unknown.Count == 0, $"the silo service sets variables the silo does not read: {string.Join(", ", unknown)}");
        Assert.All(ClusterVariables, v => Assert.Contains(v, Environment(Service("silo")).Keys));
    }

    [Fact]
    public void SiloEnvironment_PointsAtTheStacksServices_WithTheirCredentials()
    {
        var silo = Environment(Service("silo"));
        var minio = Environment(Service("minio"));
        var clickHouse = Environment(Service("clickhouse"));
        var services = Services().Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToHashSet(StringComparer.Ordinal);

        // KAFKA_BROKER is the listener Kafka advertises inside the network.
        var advertised = Environment(Service("kafka"))["KAFKA_ADVERTISED_LISTENERS"].Split(',').Select(l => l[(l.IndexOf("://", StringComparison.Ordinal) + 3)..]);
        Assert.Contains(silo["KAFKA_BROKER"], advertised);
        Assert.Contains(Host(silo["KAFKA_BROKER"]), services);
        Assert.Contains(silo["MINIO_HOST"], services);
        Assert.Contains(silo["CLICKHOUSE_HOST"], services);
        Assert.Contains(Host(silo["CASTIRON_REDIS"]), services);

        Assert.Equal(minio["MINIO_ROOT_USER"], silo["MINIO_ROOT_USER"]);
        Assert.Equal(minio["MINIO_ROOT_PASSWORD"], silo["MINIO_ROOT_PASSWORD"]);
        Assert.Equal(clickHouse["CLICKHOUSE_USER"], silo["CLICKHOUSE_USER"]);
        Assert.Equal(clickHouse["CLICKHOUSE_PASSWORD"], silo["CLICKHOUSE_PASSWORD"]);
        Assert.Equal(new CastIronOptions().Bucket, silo["MINIO_ETL_BUCKET"]);
        Assert.Equal("false", silo["MINIO_SECURE"]);
        Assert.Equal("9000", silo["MINIO_PORT"]);
        Assert.Equal("8123", silo["CLICKHOUSE_PORT"]);

        // Credentials can be overridden from the shell or .env.
        foreach (var credential in new[] { "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD" })
        {
            Assert.StartsWith($"${{{credential}:-", silo[credential], StringComparison.Ordinal);
        }
    }

    [Fact]
    public void KafkaTopics_AreTheSilosTopics_AndTheirDeadLetterTopics()
    {
        var options = new CastIronKafkaOptions();
        string[] topics = [options.SourceFileTopic, options.TextPayloadTopic, options.VideoPayloadTopic, options.PizzaTrackerTopic];
        var script = TopicScript();

        var created = TopicArgument().Matches(script).Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal).ToList();

        Assert.Equal(topics.Concat(topics.Select(t => $"{t}-dlq")).Order(StringComparer.Ordinal), created);
        Assert.Contains("--if-not-exists", script, StringComparison.Ordinal);
        Assert.Contains($"--bootstrap-server {Environment(Service("silo"))["KAFKA_BROKER"]}", script, StringComparison.Ordinal);
    }

    [Fact]
    public void VideoPayloadTopics_TakeTheLargestPayload()
    {
        var options = new CastIronKafkaOptions();
        var lines = TopicScript().Split('\n');

        foreach (var topic in new[] { options.VideoPayloadTopic, $"{options.VideoPayloadTopic}-dlq" })
        {
            var line = Assert.Single(lines, l => TopicArgument().Matches(l).Any(m => m.Groups[1].Value == topic));
            var limit = MaxMessageBytes().Match(line);
            Assert.True(limit.Success, $"topic {topic} is created without max.message.bytes: {line}");
            Assert.True(long.Parse(limit.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= options.MaxMessageBytes, $"{topic}: max.message.bytes below CastIron:Kafka:MaxMessageBytes ({options.MaxMessageBytes})");
        }
    }

    [Fact]
    public void MinioNotifiesTheSourceFileTopic_UnderTheArnTheSiloRegisters()
    {
        var arn = new S3StorageOptions().NotificationArn;
        var silo = Environment(Service("silo"));
        var minio = Environment(Service("minio"));
        // arn:minio:sqs::<target id>:<target type>; MinIO keeps the target id's case from the variable's suffix.
        var parts = arn.Split(':');
        var (id, type) = (parts[4], parts[5]);

        Assert.Equal(arn, silo["MINIO_NOTIFICATION_ARN_ETL_SOURCE_FILE"]);
        Assert.Equal("kafka", type);
        Assert.Equal("on", minio[$"MINIO_NOTIFY_KAFKA_ENABLE_{id}"]);
        Assert.Equal(new CastIronKafkaOptions().SourceFileTopic, minio[$"MINIO_NOTIFY_KAFKA_TOPIC_{id}"]);
        Assert.Equal(silo["KAFKA_BROKER"], minio[$"MINIO_NOTIFY_KAFKA_BROKERS_{id}"]);
    }

    [Fact]
    public void EveryImage_IsPinned()
    {
        foreach (var (name, service) in ServiceList())
        {
            if (service.Children.ContainsKey(new YamlScalarNode("build")))
            {
                continue;
            }

            AssertPinned(name, Scalar(service, "image"));
        }

        var from = Instructions(DockerfilePath).Where(i => i.Keyword == "FROM").ToList();
        Assert.NotEmpty(from);
        Assert.All(from, i => AssertPinned("silo/Dockerfile", i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]));
    }

    [Fact]
    public void EveryLongRunningService_HasAHealthcheck()
    {
        // One-shot services are those others wait for to complete; they must not be restarted.
        var oneShot = ServiceList()
            .SelectMany(s => DependsOn(s.Service))
            .Where(d => d.Value == "service_completed_successfully")
            .Select(d => d.Key)
            .ToHashSet(StringComparer.Ordinal);
        Assert.Contains("kafka-topics", oneShot);

        foreach (var (name, service) in ServiceList())
        {
            if (oneShot.Contains(name))
            {
                Assert.Equal("no", Scalar(service, "restart"));
                continue;
            }

            Assert.True(service.Children.TryGetValue(new YamlScalarNode("healthcheck"), out var healthcheck), $"service {name} has no healthcheck");
            var check = (YamlMappingNode)healthcheck;
            Assert.True(check.Children.ContainsKey(new YamlScalarNode("test")), $"service {name}'s healthcheck has no test");
            Assert.False(check.Children.TryGetValue(new YamlScalarNode("disable"), out var disable) && ((YamlScalarNode)disable).Value == "true", $"service {name}'s healthcheck is disabled");
        }
    }

    [Fact]
    public void Silo_StartsOnceTheBackendsAreHealthy_AndTheTopicsExist()
    {
        var expected = new Dictionary<string, string>
        {
            ["kafka"] = "service_healthy",
            ["kafka-topics"] = "service_completed_successfully",
            ["minio"] = "service_healthy",
            ["clickhouse"] = "service_healthy",
            ["redis"] = "service_healthy",
        };

        Assert.Equal(expected.OrderBy(p => p.Key, StringComparer.Ordinal), DependsOn(Service("silo")).OrderBy(p => p.Key, StringComparer.Ordinal));
        Assert.Equal("service_completed_successfully", DependsOn(Service("minio"))["kafka-topics"]);
    }

    [Fact]
    public void Silo_RunsReplicas_BehindTheApiFront()
    {
        var silo = Service("silo");
        var api = Service("api");
        var apiPort = DockerfileApiPort();

        var build = (YamlMappingNode)silo["build"];
        Assert.Equal(".", Scalar(build, "context"));
        Assert.Equal(Path.GetFullPath(DockerfilePath), Path.GetFullPath(Path.Combine(Root, Scalar(build, "dockerfile"))));
        Assert.True(int.Parse(Scalar((YamlMappingNode)silo["deploy"], "replicas"), System.Globalization.CultureInfo.InvariantCulture) >= 2);
        // Replicas cannot share a published host port or a container name.
        Assert.False(silo.Children.ContainsKey(new YamlScalarNode("ports")), "silo replicas cannot publish host ports; the api service does");
        Assert.False(silo.Children.ContainsKey(new YamlScalarNode("container_name")));
        Assert.Contains(Sequence(silo, "volumes"), v => v.EndsWith(":/plugins:ro", StringComparison.Ordinal));

        // The silo's health is its live route, on the port it listens on.
        Assert.Contains($"http://localhost:{apiPort}/health/live", Sequence((YamlMappingNode)silo["healthcheck"], "test"));

        // The API front publishes the API port and sends it to every silo on that port.
        Assert.Contains($"{apiPort}:{apiPort}", Sequence(api, "ports"));
        Assert.Equal("service_healthy", DependsOn(api)["silo"]);
        var mount = Assert.Single(Sequence(api, "volumes"), v => v.EndsWith(":/etc/nginx/conf.d/default.conf:ro", StringComparison.Ordinal));
        var conf = File.ReadAllText(Path.Combine(Root, mount.Split(':')[0]));
        Assert.Contains($"server silo:{apiPort} resolve", conf, StringComparison.Ordinal);
        Assert.Contains($"listen {apiPort};", conf, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dockerfile_ExposesTheClusterPorts_AndTheApiPort()
    {
        var endpoints = await DefaultEndpointsAsync();
        var apiPort = DockerfileApiPort();
        var exposed = Instructions(DockerfilePath).Where(i => i.Keyword == "EXPOSE")
            .SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(p => int.Parse(p.Split('/')[0], System.Globalization.CultureInfo.InvariantCulture))
            .ToHashSet();

        Assert.Contains(endpoints.SiloPort, exposed);
        Assert.Contains(endpoints.GatewayPort, exposed);
        Assert.Contains(apiPort, exposed);
        // The container listens where a local silo does (appsettings.json's Urls), so the README's port holds.
        using var settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "silo", "Orleans.CastIron.Silo", "appsettings.json")));
        Assert.Equal(new Uri(settings.RootElement.GetProperty("Urls").GetString()!).Port, apiPort);
    }

    [Fact]
    public void Dockerfile_HealthcheckProbesTheLiveRoute()
    {
        var healthcheck = Assert.Single(Instructions(DockerfilePath), i => i.Keyword == "HEALTHCHECK");
        var url = LocalUrl().Match(healthcheck.Arguments);

        Assert.True(url.Success, $"no local URL in HEALTHCHECK {healthcheck.Arguments}");
        Assert.Equal(DockerfileApiPort(), int.Parse(url.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("/health/live", url.Groups[2].Value);
    }

    [Fact]
    public void Dockerfile_PublishesTheSiloProject_AndRunsItsAssembly()
    {
        var instructions = Instructions(DockerfilePath);
        var publish = Assert.Single(instructions, i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal) && i.Arguments.Contains("-o /app ", StringComparison.Ordinal));
        var project = PublishedProject().Match(publish.Arguments).Groups[1].Value;
        var projectFile = Directory.Exists(Path.Combine(Root, project))
            ? Assert.Single(Directory.GetFiles(Path.Combine(Root, project), "*.csproj"))
            : Path.Combine(Root, project);

        Assert.Equal(Path.GetFullPath(Path.Combine(Root, SiloProject)), Path.GetFullPath(projectFile));
        Assert.True(File.Exists(projectFile));
        Assert.Contains("-c Release", publish.Arguments, StringComparison.Ordinal);
        Assert.Contains("-o /app", publish.Arguments, StringComparison.Ordinal);
        Assert.Null(XDocument.Load(projectFile).Descendants("AssemblyName").FirstOrDefault());
        Assert.Equal(new[] { "dotnet", $"{Path.GetFileNameWithoutExtension(SiloProject)}.dll" }, Entrypoint()[..2]);
    }

    [Fact]
    public void Dockerfile_PutsTheCliOnThePath_RunningItsOwnPublishedAssembly()
    {
        var instructions = Instructions(DockerfilePath);
        var runtimeStage = instructions.FindLastIndex(i => i.Keyword == "FROM");
        var publish = Assert.Single(instructions, i => i.Keyword == "RUN" && i.Arguments.Contains($"dotnet publish {Path.GetDirectoryName(CliProject)} ", StringComparison.Ordinal));
        var output = Regex.Match(publish.Arguments, @"-o\s+(\S+)").Groups[1].Value;
        var copy = Assert.Single(instructions.Skip(runtimeStage), i => i.Keyword == "COPY" && i.Arguments.StartsWith($"--from=build {output} ", StringComparison.Ordinal));
        var installed = copy.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1].TrimEnd('/');
        var assembly = XDocument.Load(Path.Combine(Root, CliProject)).Descendants("AssemblyName").Single().Value;

        Assert.NotEqual("/app", output);
        Assert.Contains(instructions.Skip(runtimeStage), i => i.Keyword == "RUN"
            && i.Arguments.Contains($"exec dotnet {installed}/{assembly}.dll \"$@\"", StringComparison.Ordinal)
            && i.Arguments.Contains("> /usr/local/bin/castiron", StringComparison.Ordinal)
            && i.Arguments.Contains("chmod 755 /usr/local/bin/castiron", StringComparison.Ordinal));
    }

    [Fact]
    public void Dockerfile_RestoreLayer_CopiesEveryProjectTheSiloReferences()
    {
        var instructions = Instructions(DockerfilePath);
        var restore = instructions.FindIndex(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet restore", StringComparison.Ordinal));
        Assert.True(restore > 0, "no dotnet restore step");
        var copied = instructions.Take(restore).Where(i => i.Keyword == "COPY")
            .SelectMany(i => { var words = i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries); return words[..^1]; })
            .ToHashSet(StringComparer.Ordinal);

        var missing = ProjectClosure(Path.Combine(Root, SiloProject)).Concat(ProjectClosure(Path.Combine(Root, CliProject)))
            .Select(p => Path.GetRelativePath(Root, p).Replace('\\', '/'))
            .Concat(["Directory.Build.props", "Directory.Packages.props", "global.json"])
            .Where(p => !copied.Contains(p))
            .ToList();

        Assert.True(missing.Count == 0, $"not copied before dotnet restore (the restore would miss them): {string.Join(", ", missing)}");
    }

    [Fact]
    public void Dockerfile_RunsAsTheAppUser_WithItsVolumesAndPaths()
    {
        var instructions = Instructions(DockerfilePath);
        var env = instructions.Where(i => i.Keyword == "ENV")
            .SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(w => w.Split('=', 2))
            .ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "", StringComparer.Ordinal);
        var volumes = instructions.Where(i => i.Keyword == "VOLUME").SelectMany(i => JsonSerializer.Deserialize<string[]>(i.Arguments)!).ToList();
        var runtimeStage = instructions.FindLastIndex(i => i.Keyword == "FROM");

        Assert.Equal("app", instructions.Skip(runtimeStage).Last(i => i.Keyword == "USER").Arguments);
        Assert.Equal(new[] { "/data", "/plugins", "/python" }, volumes);
        // The data path is the seed's variable; the plugin path a setting the silo binds.
        Assert.Equal("CastIron:LocalFolder:RootPath", SeedEnvironment.Map["CASTIRON_DATA_PATH"]);
        Assert.Equal("/data", env["CASTIRON_DATA_PATH"]);
        Assert.Equal("/plugins", env["CastIron__Processing__PluginsPath"]);
        // Python processors: the interpreter in the runtime image, their code on the /python volume.
        Assert.Equal("/python", env["CastIron__Python__Path"]);
        Assert.Contains(instructions.Skip(runtimeStage), i => i.Keyword == "RUN" && i.Arguments.Contains("python3", StringComparison.Ordinal));
        Assert.Contains(instructions.Skip(runtimeStage), i => i.Keyword == "RUN" && i.Arguments.Contains("chown app:app /data /plugins /python", StringComparison.Ordinal));
    }

    // ---- helpers ---------------------------------------------------------------------------------------------------

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Orleans.CastIron.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Orleans.CastIron.sln above {AppContext.BaseDirectory}");
    }

    private static async Task<(int ExitCode, string Output)> DockerComposeAsync(params string[] arguments)
    {
        var executable = (System.Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "docker-compose"))
            .FirstOrDefault(File.Exists);
        Assert.True(executable is not null, "docker-compose is not installed, so docker-compose.yml cannot be validated: install it with `apt-get install docker-compose` (.ci/run does)");

        var start = new ProcessStartInfo(executable!) { WorkingDirectory = Root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, (await stdout) + (await stderr));
    }

    private static YamlMappingNode Compose()
    {
        var stream = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(ComposePath));
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static YamlMappingNode Services() => (YamlMappingNode)Compose()["services"];

    private static IEnumerable<(string Name, YamlMappingNode Service)> ServiceList() =>
        Services().Children.Select(c => (((YamlScalarNode)c.Key).Value!, (YamlMappingNode)c.Value));

    private static YamlMappingNode Service(string name) =>
        Services().Children.TryGetValue(new YamlScalarNode(name), out var service) ? (YamlMappingNode)service : throw new Xunit.Sdk.XunitException($"docker-compose.yml has no service {name}");

    private static string Scalar(YamlMappingNode node, string key) => ((YamlScalarNode)node[key]).Value ?? "";

    private static List<string> Sequence(YamlMappingNode node, string key) =>
        [.. ((YamlSequenceNode)node[key]).Children.Select(c => ((YamlScalarNode)c).Value ?? "")];

    /// <summary>A service's environment, from the map form or the list form (<c>KEY=value</c>).</summary>
    private static Dictionary<string, string> Environment(YamlMappingNode service)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!service.Children.TryGetValue(new YamlScalarNode("environment"), out var environment))
        {
            return result;
        }

        if (environment is YamlMappingNode map)
        {
            foreach (var (key, value) in map.Children)
            {
                result[((YamlScalarNode)key).Value!] = ((YamlScalarNode)value).Value ?? "";
            }
        }
        else
        {
            foreach (var item in ((YamlSequenceNode)environment).Children.Select(c => ((YamlScalarNode)c).Value!.Split('=', 2)))
            {
                result[item[0]] = item.Length > 1 ? item[1] : "";
            }
        }

        return result;
    }

    /// <summary>A service's dependencies and their conditions (a plain list means <c>service_started</c>).</summary>
    private static Dictionary<string, string> DependsOn(YamlMappingNode service)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!service.Children.TryGetValue(new YamlScalarNode("depends_on"), out var dependsOn))
        {
            return result;
        }

        if (dependsOn is YamlSequenceNode list)
        {
            foreach (var name in list.Children)
            {
                result[((YamlScalarNode)name).Value!] = "service_started";
            }
        }
        else
        {
            foreach (var (name, options) in ((YamlMappingNode)dependsOn).Children)
            {
                result[((YamlScalarNode)name).Value!] = Scalar((YamlMappingNode)options, "condition");
            }
        }

        return result;
    }

    /// <summary>The kafka-topics service's shell script (entrypoint <c>sh -c</c>, the script as the command).</summary>
    private static string TopicScript()
    {
        var service = Service("kafka-topics");
        Assert.Equal(new[] { "/bin/sh", "-c" }, Sequence(service, "entrypoint"));
        return Assert.Single(Sequence(service, "command"));
    }

    private static string Host(string hostAndPort) => hostAndPort.Split(':')[0];

    private static void AssertPinned(string owner, string image)
    {
        var name = image[(image.LastIndexOf('/') + 1)..];
        var colon = name.IndexOf(':', StringComparison.Ordinal);
        Assert.True(colon > 0, $"{owner}: image {image} has no tag");
        var tag = name[(colon + 1)..];
        Assert.False(tag is "latest" or "" || tag.Contains('$', StringComparison.Ordinal), $"{owner}: image {image} is not pinned to a version");
    }

    private sealed record Instruction(string Keyword, string Arguments);

    /// <summary>A Dockerfile's instructions, continuation lines joined and comments left out.</summary>
    private static List<Instruction> Instructions(string path)
    {
        var result = new List<Instruction>();
        var current = "";
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                current += line[..^1] + " ";
                continue;
            }

            current += line;
            var space = current.IndexOf(' ', StringComparison.Ordinal);
            result.Add(new Instruction(current[..space].ToUpperInvariant(), Whitespace().Replace(current[(space + 1)..], " ").Trim()));
            current = "";
        }

        return result;
    }

    private static string[] Entrypoint() =>
        JsonSerializer.Deserialize<string[]>(Assert.Single(Instructions(DockerfilePath), i => i.Keyword == "ENTRYPOINT").Arguments)!;

    /// <summary>The port of the <c>--urls</c> the image's entry point passes.</summary>
    private static int DockerfileApiPort()
    {
        var entrypoint = Entrypoint();
        var urls = Array.IndexOf(entrypoint, "--urls");
        Assert.True(urls > 0 && urls + 1 < entrypoint.Length, "the ENTRYPOINT passes no --urls");
        return new Uri(entrypoint[urls + 1]).Port;
    }

    /// <summary>The silo's own defaults for its cluster ports, as the host it builds configures Orleans.</summary>
    private static async Task<EndpointOptions> DefaultEndpointsAsync()
    {
        var folder = Directory.CreateTempSubdirectory("castiron-compose-");
        try
        {
            await using var app = SiloHost.Build(
                [$"--CastIron:LocalFolder:RootPath={folder.FullName}", $"--CastIron:Processing:WorkPath={Path.Combine(folder.FullName, "work")}"],
                new Dictionary<string, string?>());
            return app.Services.GetRequiredService<IOptions<EndpointOptions>>().Value;
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>A project and every project it references, directly or not.</summary>
    private static HashSet<string> ProjectClosure(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Path.GetFullPath(project)]);
        while (pending.TryPop(out var next))
        {
            if (!seen.Add(next))
            {
                continue;
            }

            foreach (var reference in XDocument.Load(next).Descendants("ProjectReference"))
            {
                pending.Push(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(next)!, reference.Attribute("Include")!.Value.Replace('\\', '/'))));
            }
        }

        return seen;
    }

    [GeneratedRegex(@"--topic\s+(\S+)")]
    private static partial Regex TopicArgument();

    [GeneratedRegex(@"max\.message\.bytes=(\d+)")]
    private static partial Regex MaxMessageBytes();

    [GeneratedRegex(@"https?://(?:localhost|127\.0\.0\.1):(\d+)(/[^\s""']*)")]
    private static partial Regex LocalUrl();

    [GeneratedRegex(@"dotnet publish\s+(\S+)")]
    private static partial Regex PublishedProject();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
