import ConnectorKit

/// How the pipeline loader finds this folder's plugins: `BuiltinPlugins` lists it, and a
/// package building its own registry can pick it alone.
extension PluginDescriptor {
    /// The `csv` decoder.
    public static let csv: PluginDescriptor = .decoder("csv", CSVConfiguration.self, summary: "CSV (RFC 4180) in any one-byte delimiter and encoding") { c, _ in CSVDecoder(c) }
}
