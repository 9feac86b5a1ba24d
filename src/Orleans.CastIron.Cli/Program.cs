return await Orleans.CastIron.Cli.CliApp.RunAsync(args);
