import ConnectorKit
import CoreConnectors

/// How the pipeline loader finds this folder's plugins: `BuiltinPlugins` lists it, and a
/// package building its own registry can pick it alone.
extension PluginDescriptor {
    /// The `smb` source.
    public static let smb: PluginDescriptor = .source("smb", SMBConfiguration.self, summary: "Files on an SMB share (Windows, Samba; SMB1 for XP only when asked), tailed") { c, ctx in try c.makeIsolatedOrLocalSource(context: ctx) }
}
