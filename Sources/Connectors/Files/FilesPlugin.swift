import ConnectorKit

/// How the pipeline loader finds this folder's plugins: `BuiltinPlugins` lists it, and a
/// package building its own registry can pick it alone.
extension PluginDescriptor {
    /// The `files` source.
    public static let files: PluginDescriptor = .source("files", FilesConfiguration.self, summary: "Files in a local folder, tailed: only new bytes are read") { c, ctx in c.makeSource(context: ctx) }
}
