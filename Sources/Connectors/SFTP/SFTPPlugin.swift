import ConnectorKit
import CoreConnectors

/// How the pipeline loader finds this folder's plugins: `BuiltinPlugins` lists it, and a
/// package building its own registry can pick it alone.
extension PluginDescriptor {
    /// The `sftp` source.
    public static let sftp: PluginDescriptor = .source("sftp", SFTPConfiguration.self, summary: "Files on an SSH server over SFTP, host keys verified; only new bytes travel") { c, ctx in try c.makeSource(context: ctx) }
}
