global using Orleans.CastIron.Config;
global using Orleans.CastIron.Grains;
global using Xunit;
