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

app.Run();
return 0;
