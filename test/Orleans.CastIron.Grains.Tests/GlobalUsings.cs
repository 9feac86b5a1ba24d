global using System.Collections.Immutable;
global using Orleans.CastIron.Config;
global using Orleans.CastIron.Files;
global using Orleans.CastIron.Grains;
global using Orleans.CastIron.Jobs;
global using Xunit;
