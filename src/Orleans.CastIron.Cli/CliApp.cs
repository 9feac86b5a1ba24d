using System.CommandLine;
using Orleans.CastIron.Files;

namespace Orleans.CastIron.Cli;

/// <summary>
/// The <c>castiron</c> command line. Exit codes: 0 done; 1 a file ended Failed or Canceled, a command was refused or a
/// config is invalid; 2 bad arguments or input (no such config, file or id); 3 the cluster cannot be reached.
/// </summary>
public static class CliApp
{
    public const int Ok = 0;
    public const int FileFailed = 1;
    public const int Usage = 2;
    public const int Unreachable = 3;

    private static readonly Option<string?> Gateway = new("--gateway", "-g")
    {
        Description = "The cluster's gateway, host:port (default: CASTIRON_GATEWAY, else localhost:30000; with CASTIRON_REDIS the cluster is found in Redis)",
        Recursive = true,
    };

    private static readonly Option<bool> Json = new("--json")
    {
        Description = "Print JSON (for scripts) instead of tables",
    };

    /// <param name="environment">The variables to read settings from instead of the process's (tests run several CLIs side by side).</param>
    /// <param name="stdin">What <c>submit -</c> reads instead of the process's standard input.</param>
    public static async Task<int> RunAsync(string[] args, TextWriter? stdout = null, TextWriter? stderr = null, IReadOnlyDictionary<string, string?>? environment = null, Stream? stdin = null)
    {
        var output = new Output(stdout ?? Console.Out, stderr ?? Console.Error, stdout is null && !Console.IsOutputRedirected, environment, stdin);
        var root = new RootCommand("castiron: submit files to an Orleans.CastIron cluster and watch them go through")
        {
            Options = { Gateway },
            Subcommands =
            {
                SubmitCommand(output),
                StatusCommand(output),
                WatchCommand(output),
                FileCommand("cancel", "Cancel a file that has not finished", output, (client, id, ct) => client.CancelAsync(id, null, ct)),
                FileCommand("retry", "Run a failed or canceled file again", output, (client, id, ct) => client.RetryAsync(id, ct)),
                ConfigsCommand(output),
                ClusterCommand(output),
                PayloadCommand(output),
            },
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                output.Error(error.Message);
            }

            output.Error("see 'castiron --help'");
            return Usage;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output.Out, Error = output.Err });
    }

    private static Command SubmitCommand(Output output)
    {
        var files = new Argument<string[]>("files") { Description = "Files to submit; - reads one from standard input (name it with --name)", Arity = ArgumentArity.OneOrMore };
        var config = new Option<string>("--config", "-c") { Description = "The config whose inbox takes them: its key, or its file name", Required = true };
        var watch = new Option<bool>("--watch", "-w") { Description = "Show each file's progress until it ends; exit 1 if any fails" };
        var name = new Option<string>("--name", "-n") { Description = "The name of the file read from standard input (-)" };
        var command = new Command("submit", "Upload files into a config's inbox") { files, config, watch, name, Json };
        command.SetAction((parse, ct) => Connection.RunAsync(parse.GetValue(Gateway), output, async client =>
        {
            var paths = parse.GetValue(files)!;
            var stdinName = parse.GetValue(name);
            var fromStdin = paths.Count(p => p == "-");
            if (fromStdin > 1 || (fromStdin == 1) != (stdinName is not null))
            {
                output.Error(fromStdin > 1 ? "standard input (-) can be submitted once" : fromStdin == 1 ? "- (standard input) needs --name: the file's name in the inbox" : "--name names the file read from standard input; give - as the file");
                return Usage;
            }

            var missing = paths.FirstOrDefault(p => p != "-" && !File.Exists(p));
            if (missing is not null)
            {
                // Checked before any upload, so a typo does not leave half the files submitted.
                output.Error($"{Path.GetFullPath(missing)}: no such file");
                return Usage;
            }

            var submitted = new List<(string Name, string Id)>();
            foreach (var path in paths)
            {
                var fileName = path == "-" ? stdinName! : Path.GetFileName(path);
                var result = path == "-"
                    ? await client.SubmitAsync(output.Input, fileName, parse.GetValue(config)!, null, ct)
                    : await client.SubmitAsync(path, parse.GetValue(config)!, ct);
                submitted.Add((fileName, result.FileId));
                if (!parse.GetValue(watch))
                {
                    output.Submitted(fileName, result, parse.GetValue(Json));
                }
            }

            return parse.GetValue(watch) ? await Watcher.WatchAsync(client, output, submitted, parse.GetValue(Json), ct) : Ok;
        }));
        return command;
    }

    private static Command StatusCommand(Output output)
    {
        var id = new Argument<string?>("id") { Description = "A file id (omit to list files)", Arity = ArgumentArity.ZeroOrOne };
        var status = new Option<FileStatus?>("--status", "-s") { Description = "Only files in this status" };
        var limit = new Option<int>("--limit", "-n") { Description = "How many files", DefaultValueFactory = _ => 20 };
        var offset = new Option<int>("--offset") { Description = "Skip this many (newest first)" };
        var command = new Command("status", "A file's status, or the latest files") { id, status, limit, offset, Json };
        command.SetAction((parse, ct) => Connection.RunAsync(parse.GetValue(Gateway), output, async client =>
        {
            if (parse.GetValue(id) is { } fileId)
            {
                if (await client.GetFileAsync(fileId, ct) is not { } record)
                {
                    output.Error($"no file with id '{fileId}'");
                    return Usage;
                }

                output.File(record, parse.GetValue(Json));
                return Ok;
            }

            var count = parse.GetValue(limit);
            if (count is < 1 or > 10_000)
            {
                output.Error($"--limit must be between 1 and 10000, not {count}");
                return Usage;
            }

            output.Files(await client.ListFilesAsync(parse.GetValue(status), count, Math.Max(0, parse.GetValue(offset)), ct), parse.GetValue(Json));
            return Ok;
        }));
        return command;
    }

    private static Command WatchCommand(Output output)
    {
        var id = new Argument<string>("id") { Description = "The file id" };
        var command = new Command("watch", "Follow a file until it ends; exit 1 if it fails") { id, Json };
        command.SetAction((parse, ct) => Connection.RunAsync(parse.GetValue(Gateway), output, async client =>
        {
            var fileId = parse.GetValue(id)!;
            if (await client.GetFileAsync(fileId, ct) is not { } record)
            {
                output.Error($"no file with id '{fileId}'");
                return Usage;
            }

            return await Watcher.WatchAsync(client, output, [(record.OriginalFilename, fileId)], parse.GetValue(Json), ct);
        }));
        return command;
    }

    private static Command FileCommand(string name, string description, Output output, Func<Client.ICastIronClient, string, CancellationToken, Task<Grains.CommandResult>> act)
    {
        var id = new Argument<string>("id") { Description = "The file id" };
        var command = new Command(name, description) { id, Json };
        command.SetAction((parse, ct) => Connection.RunAsync(parse.GetValue(Gateway), output, async client =>
        {
            var result = await act(client, parse.GetValue(id)!, ct);
            output.Command(result, parse.GetValue(Json));
            return result.Accepted ? Ok : FileFailed;
        }));
        return command;
    }

    private static Command PayloadCommand(Output output)
    {
        var method = new Option<string>("--method", "-m") { Description = "The handler's name (worker_run_method)", Required = true };
        var data = new Option<string>("--data", "-d") { Description = "data: JSON, or any other text as a string", Required = true };
        var arguments = new Option<string[]>("--arg", "-a") { Description = "Another field, name=value (JSON, or text as a string); repeatable", AllowMultipleArgumentsPerToken = false };
        var video = new Option<bool>("--video") { Description = "Send on the video payload topic" };
        var wait = new Option<bool>("--wait") { Description = "Wait for the handler's outcome and report it, through Kafka as well (without a broker it always does)" };
        var send = new Command("send", "Send a payload message to a handler; exit 1 if it was not handled") { method, data, arguments, video, wait, Json };
        send.SetAction((parse, ct) => Connection.RunAsync(parse.GetValue(Gateway), output, async client =>
        {
            var named = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var argument in parse.GetValue(arguments) ?? [])
            {
                var equals = argument.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    output.Error($"--arg '{argument}' is not name=value");
                    return Usage;
                }

                named[argument[..equals]] = argument[(equals + 1)..];
            }

            var result = await client.SendPayloadAsync(parse.GetValue(method)!, parse.GetValue(data)!, named, parse.GetValue(video) ? Grains.PayloadKind.Video : Grains.PayloadKind.Text, parse.GetValue(wait), ct);
            output.Payload(result, parse.GetValue(Json));
            // Sent and not awaited is done; otherwise the handler's outcome decides.
            return result.Handled || (result.SentTo is not null && result.RequestId is null) ? Ok : FileFailed;
        }));
        return new Command("payload", "Streaming payloads") { Subcommands = { send } };
    }

    private static Command ClusterCommand(Output output)
    {
        var command = new Command("cluster", "The cluster: silos, intake, files by status, Kafka partitions with lag") { Json };
        command.SetAction((parse, ct) => Connection.RunAsync(parse.GetValue(Gateway), output, async client =>
        {
            output.Cluster(await client.GetClusterStatusAsync(ct), parse.GetValue(Json));
            return Ok;
        }));
        return command;
    }

    private static Command ConfigsCommand(Output output)
    {
        var list = new Command("list", "The bucket's configs: registered, or why not") { Json };
        list.SetAction((parse, ct) => Connection.RunAsync(parse.GetValue(Gateway), output, async client =>
        {
            output.Configs(await client.ListConfigsAsync(ct), parse.GetValue(Json));
            return Ok;
        }));

        var file = new Argument<FileInfo>("file") { Description = "A .toml config" };
        var validate = new Command("validate", "Check a config before dropping it into the bucket; exit 1 if invalid") { file, Json };
        validate.SetAction((parse, ct) => Connection.RunAsync(parse.GetValue(Gateway), output, async client =>
        {
            var path = parse.GetValue(file)!;
            if (!path.Exists)
            {
                output.Error($"{path.FullName}: no such file");
                return Usage;
            }

            var text = await File.ReadAllTextAsync(path.FullName, ct);
            var result = await client.ValidateConfigAsync(text, path.Name, ct);
            output.Validation(path.Name, text, result, parse.GetValue(Json));
            return result.IsValid ? Ok : FileFailed;
        }));
        return new Command("configs", "Processor configs") { Subcommands = { list, validate } };
    }
}
