import ConnectorKit

/// How the pipeline loader finds this folder's plugins: `BuiltinPlugins` lists it, and a
/// package building its own registry can pick it alone.
extension PluginDescriptor {
    /// The `log` decoder.
    public static let log: PluginDescriptor = .decoder("log", LogConfiguration.self, summary: "Log lines split by a regex with named groups, or key=value pairs") { c, _ in LogDecoder(c) }
}
