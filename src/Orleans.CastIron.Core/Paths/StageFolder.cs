namespace Orleans.CastIron.Paths;

/// <summary>Validation and normalisation of configured stage folders (<c>inbox_dir</c>, <c>processing_dir</c>, ...).</summary>
public static class StageFolder
{
    /// <summary>
    /// Normalises a configured folder: <c>/</c>-separated, trailing and doubled slashes and <c>.</c> segments
    /// removed. Absolute folders, <c>..</c> segments, backslashes, control characters and folders that
    /// normalise to the config folder itself are refused, because they would escape or overlap the config's
    /// folder (seed bug B-19 accepted all of them).
    /// </summary>
    /// <returns><see langword="true"/> with <paramref name="normalized"/> set, or <see langword="false"/> with
    /// <paramref name="problem"/> saying why.</returns>
    public static bool TryNormalize(string raw, out string normalized, out string? problem)
    {
        normalized = "";
        if (string.IsNullOrWhiteSpace(raw))
        {
            problem = "must not be empty";
            return false;
        }

        if (raw[0] == '/' || raw[0] == '\\' || (raw.Length > 1 && raw[1] == ':'))
        {
            problem = $"'{raw}' is absolute; stage folders are relative to the folder holding the .toml";
            return false;
        }

        foreach (var c in raw)
        {
            if (char.IsControl(c))
            {
                problem = "contains a control character";
                return false;
            }

            if (c == '\\')
            {
                problem = $"'{raw}' contains a backslash; use '/' between folders";
                return false;
            }
        }

        var segments = new List<string>();
        foreach (var segment in raw.Split('/'))
        {
            if (segment.Length == 0 || segment == ".")
            {
                continue;
            }

            if (segment == "..")
            {
                problem = $"'{raw}' contains '..'; stage folders may not leave the folder holding the .toml";
                return false;
            }

            segments.Add(segment);
        }

        if (segments.Count == 0)
        {
            problem = $"'{raw}' names the config's own folder; use a sub-folder such as '01_inbox'";
            return false;
        }

        normalized = string.Join('/', segments);
        problem = null;
        return true;
    }
}
