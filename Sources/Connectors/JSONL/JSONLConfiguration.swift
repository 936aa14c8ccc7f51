import ConnectorKit

/// `type = "jsonl"`: one JSON object per record, to a file or standard output.
public struct JSONLConfiguration: PluginConfiguration {
    /// A file (relative to the pipeline file's directory) or `"-"` for standard output.
    public var path: String

    enum CodingKeys: String, CodingKey { case path }

    public func validate() throws {
        if path.isEmpty { throw ConfigIssue(key: "path", message: "must name a file, or \"-\" for standard output") }
    }

    public static let sample = """
        type = "jsonl"
        path = "/var/lib/sluice/out/press.jsonl"
        """
}
