namespace Orleans.CastIron.Config;

/// <summary>What kind of problem a <see cref="ConfigError"/> reports.</summary>
public enum ConfigErrorCode
{
    /// <summary>The text is not valid TOML.</summary>
    Syntax,

    /// <summary>A key is defined twice.</summary>
    DuplicateKey,

    /// <summary>A key the schema does not know (often a typo).</summary>
    UnknownKey,

    /// <summary>A value of the wrong TOML type.</summary>
    WrongType,

    /// <summary>A required key is absent.</summary>
    MissingKey,

    /// <summary>A value of the right type that the schema does not accept.</summary>
    InvalidValue,

    /// <summary><c>handled_file_glob</c> does not compile.</summary>
    InvalidPattern,

    /// <summary>A stage folder that is absolute, escapes with <c>..</c>, or repeats another stage.</summary>
    InvalidStageFolder,

    /// <summary>None, or more than one, of <c>shell</c> / <c>python</c> / <c>dotnet</c> is set.</summary>
    ProcessorChoice,
}

/// <summary>
/// One problem found in a processor config, with the key and where it is: an error, or a warning about a form the
/// seed accepted (<see cref="ConfigParseResult.Warnings"/>), whose code names the same kind of problem.
/// </summary>
/// <param name="Code">The kind of problem.</param>
/// <param name="Key">The dotted key concerned, e.g. <c>castiron.etl.inbox_dir</c>.</param>
/// <param name="Line">1-based line; 0 when the problem has no place in the text (e.g. a missing table).</param>
/// <param name="Column">1-based column; 0 when the problem has no place in the text.</param>
/// <param name="Message">What is wrong and how to fix it.</param>
[GenerateSerializer, Immutable, Alias("castiron.ConfigError")]
public sealed record ConfigError(
    [property: Id(0)] ConfigErrorCode Code,
    [property: Id(1)] string Key,
    [property: Id(2)] int Line,
    [property: Id(3)] int Column,
    [property: Id(4)] string Message)
{
    /// <inheritdoc />
    public override string ToString() => Line > 0
        ? $"({Line},{Column}) {Key}: {Message} [{Code}]"
        : $"{Key}: {Message} [{Code}]";
}
