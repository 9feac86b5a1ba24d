namespace Orleans.CastIron.Processing.Python;

/// <summary>Dotted Python names (<c>package.module.attribute</c>) and where their modules are.</summary>
public static class PythonNames
{
    /// <summary>True for names made of Python identifiers joined by dots.</summary>
    public static bool IsDottedName(string name) =>
        !string.IsNullOrEmpty(name) && name.Split('.').All(IsIdentifier);

    private static bool IsIdentifier(string part) =>
        part.Length > 0 && (char.IsLetter(part[0]) || part[0] == '_') && part.All(c => char.IsLetterOrDigit(c) || c == '_');

    /// <summary>The module part of <c>module.attribute</c>: everything before the last dot (empty when there is none).</summary>
    public static string ModuleOf(string dotted)
    {
        var dot = dotted.LastIndexOf('.');
        return dot < 0 ? "" : dotted[..dot];
    }

    /// <summary>
    /// True when the module of <paramref name="dotted"/> is in one of <paramref name="folders"/>: its <c>.py</c>
    /// file, or its package folder. Only the folders are looked at (nothing is imported).
    /// </summary>
    public static bool IsInFolders(string dotted, IEnumerable<string> folders)
    {
        var module = ModuleOf(dotted);
        if (!IsDottedName(module))
        {
            return false;
        }

        var relative = Path.Combine(module.Split('.'));
        return folders.Any(folder => File.Exists(Path.Combine(folder, relative + ".py")) || Directory.Exists(Path.Combine(folder, relative)));
    }
}
