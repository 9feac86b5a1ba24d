using Tomlyn.Syntax;

namespace Orleans.CastIron.Config;

/// <summary>
/// A TOML document as a tree of tables and values that remembers where every key was written, so that schema
/// errors can name the line and column. Built from Tomlyn's syntax tree after it reported no syntax errors.
/// </summary>
internal sealed class TomlNode
{
    private readonly Dictionary<string, TomlNode> _children = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    private TomlNode(string path, ValueSyntax? value, bool isTable, int line, int column)
    {
        Path = path;
        Value = value;
        IsTable = isTable;
        Line = line;
        Column = column;
    }

    /// <summary>Dotted path from the document root.</summary>
    public string Path { get; }

    /// <summary>The value, for a key/value node.</summary>
    public ValueSyntax? Value { get; }

    /// <summary>True for tables (headers, inline tables, and tables implied by dotted keys).</summary>
    public bool IsTable { get; }

    /// <summary>1-based line of the key (0 for an implied table).</summary>
    public int Line { get; private set; }

    /// <summary>1-based column of the key (0 for an implied table).</summary>
    public int Column { get; private set; }

    /// <summary>1-based line of the value, or of the key when there is no value.</summary>
    public int ValueLine => Value is null ? Line : Value.Span.Start.Line + 1;

    /// <summary>1-based column of the value, or of the key when there is no value.</summary>
    public int ValueColumn => Value is null ? Column : Value.Span.Start.Column + 1;

    /// <summary>Children in document order.</summary>
    public IEnumerable<(string Name, TomlNode Node)> Children => _order.Select(name => (name, _children[name]));

    public TomlNode? this[string name] => _children.GetValueOrDefault(name);

    public static TomlNode Build(DocumentSyntax document)
    {
        var root = new TomlNode("", null, isTable: true, 1, 1);
        foreach (var keyValue in document.KeyValues)
        {
            root.AddKeyValue([], keyValue);
        }

        foreach (var table in document.Tables)
        {
            var path = KeyParts(table.Name);
            if (path.Count == 0)
            {
                continue;
            }

            if (table is TableArraySyntax)
            {
                // Arrays of tables have no meaning in the schema; keep the position so the reader can name it.
                var (line, column) = Position(table.Name!);
                var parent = path.Count == 1 ? root : root.GetOrAddTable(path.Take(path.Count - 1).ToList(), (0, 0));
                parent.GetOrAddChild(path[^1], () => new TomlNode(Join(parent.Path, path[^1]), null, isTable: false, line, column));
                continue;
            }

            var node = root.GetOrAddTable(path, Position(table.Name!));
            foreach (var keyValue in table.Items)
            {
                node.AddKeyValue([], keyValue);
            }
        }

        return root;
    }

    private void AddKeyValue(IReadOnlyList<string> prefix, KeyValueSyntax keyValue)
    {
        var parts = prefix.Concat(KeyParts(keyValue.Key)).ToList();
        if (parts.Count == 0)
        {
            return;
        }

        var parent = parts.Count == 1 ? this : GetOrAddTable(parts.Take(parts.Count - 1).ToList(), (0, 0));
        var name = parts[^1];
        var (line, column) = Position(keyValue.Key!);
        if (keyValue.Value is InlineTableSyntax inline)
        {
            var table = parent.GetOrAddChild(name, () => new TomlNode(Join(parent.Path, name), null, isTable: true, line, column));
            foreach (var item in inline.Items)
            {
                if (item.KeyValue is { } nested)
                {
                    table.AddKeyValue([], nested);
                }
            }

            return;
        }

        // Tomlyn's semantic validation already refused duplicates, so the first definition is the only one.
        parent.GetOrAddChild(name, () => new TomlNode(Join(parent.Path, name), keyValue.Value, isTable: false, line, column));
    }

    private TomlNode GetOrAddTable(IReadOnlyList<string> path, (int Line, int Column) position)
    {
        var node = this;
        for (var i = 0; i < path.Count; i++)
        {
            var name = path[i];
            var isLast = i == path.Count - 1;
            var parent = node;
            node = parent.GetOrAddChild(name, () => new TomlNode(Join(parent.Path, name), null, isTable: true, 0, 0));
            if (isLast && node.Line == 0 && position.Line > 0)
            {
                // A table first implied by a dotted key and later given a header takes the header's position.
                node.Line = position.Line;
                node.Column = position.Column;
            }
        }

        return node;
    }

    private TomlNode GetOrAddChild(string name, Func<TomlNode> create)
    {
        if (!_children.TryGetValue(name, out var child))
        {
            child = create();
            _children[name] = child;
            _order.Add(name);
        }

        return child;
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    private static (int Line, int Column) Position(SyntaxNode node) => (node.Span.Start.Line + 1, node.Span.Start.Column + 1);

    private static List<string> KeyParts(KeySyntax? key)
    {
        var parts = new List<string>();
        if (key is null)
        {
            return parts;
        }

        if (KeyName(key.Key) is { } first)
        {
            parts.Add(first);
        }

        foreach (var dotted in key.DotKeys)
        {
            if (KeyName(dotted.Key) is { } part)
            {
                parts.Add(part);
            }
        }

        return parts;
    }

    private static string? KeyName(BareKeyOrStringValueSyntax? key) => key switch
    {
        BareKeySyntax bare => bare.Key?.Text,
        StringValueSyntax quoted => quoted.Value,
        _ => null,
    };
}
