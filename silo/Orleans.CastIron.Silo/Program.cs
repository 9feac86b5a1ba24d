using Orleans.CastIron.Silo;

SiloHost.Build(args).Run();
