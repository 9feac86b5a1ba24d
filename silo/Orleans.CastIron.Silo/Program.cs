using Orleans.CastIron.Silo;

// A bad setting is the user's to fix: one line naming it, and EX_CONFIG, rather than an unhandled exception.
WebApplication app;
try
{
    app = SiloHost.Build(args);
    SiloHost.ValidateSettings(app);
}
catch (Exception ex) when (SiloHost.DescribeSettingsError(ex) is { } problem)
{
    Console.Error.WriteLine($"Orleans.CastIron cannot start: {problem}");
    return SiloHost.InvalidSettingsExitCode;
}

// Taken before the run: the host's services are disposed when it ends.
var stopping = app.Lifetime.ApplicationStopping;
try
{
    await app.RunAsync();
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    // Stopped (SIGTERM, Ctrl+C) while still starting, e.g. waiting for Redis: nothing ran yet, a normal stop.
    Console.Error.WriteLine("Orleans.CastIron stopped before it had started");
}

return 0;
