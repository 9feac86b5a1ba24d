namespace Orleans.CastIron.Grains;

/// <summary>Provider and state names used across grains and hosts, in one place.</summary>
public static class CastIronNames
{
    /// <summary>The grain storage holding FileJob and registry state.</summary>
    public const string GrainStorage = "castiron";
}
