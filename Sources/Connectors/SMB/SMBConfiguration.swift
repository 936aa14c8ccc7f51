import ConnectorKit
import CoreConnectors
import Logging

public enum SMBEncryption: String, ConfigEnum, Sendable { case auto, required, off }

/// `type = "smb"`: files on a Windows or Samba share, tailed like a local folder.
public struct SMBConfiguration: PluginConfiguration {
    /// `smb://host[:port]/share[/folder]`.
    public var url: String
    public var username: String?
    /// The user's domain or workgroup, if the server wants one.
    public var domain: String?
    /// Normally `"${ENV_VAR}"`.
    public var password: Secret?
    public var passwordFile: String?
    /// Log in as guest: no user, no password. Only when asked; a refused login never falls back to it.
    public var guest: Bool = false
    /// SMB dialects allowed: `"NT1"` (SMB1, Windows XP: never allowed unless asked) or `"MIN:MAX"`.
    public var protocols: String?
    /// `auto`: encrypt when the server offers it (SMB3) and require signing, which also refuses a
    /// login the server maps to guest; `required`: refuse servers that cannot encrypt; `off`.
    /// SMB1 (XP) and guest logins never sign or encrypt.
    public var encryption: SMBEncryption = .auto
    /// Connect and per-request timeout.
    public var timeout: ConfigDuration = ConfigDuration(seconds: 30)
    /// In-process, over SMB2/3: read a large file over two connections at once (`SMBSecondReads`).
    public var secondConnection = true
    /// `glob`, `recursive`, `settle`, `after_load`, `move_to` (relative to the share folder).
    public var selection = FileSelection()

    enum CodingKeys: String, CodingKey {
        case url, username, domain, password, guest, protocols, timeout, encryption
        case passwordFile = "password_file"
        case secondConnection = "second_connection"
    }

    public init(url: String) { self.url = url }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        url = try c.decode(String.self, forKey: .url)
        username = try c.decodeIfPresent(String.self, forKey: .username)
        domain = try c.decodeIfPresent(String.self, forKey: .domain)
        password = try c.decodeIfPresent(Secret.self, forKey: .password)
        passwordFile = try c.decodeIfPresent(String.self, forKey: .passwordFile)
        guest = try c.decodeIfPresent(Bool.self, forKey: .guest) ?? false
        protocols = try c.decodeIfPresent(String.self, forKey: .protocols)
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? timeout
        encryption = try c.decodeIfPresent(SMBEncryption.self, forKey: .encryption) ?? .auto
        secondConnection = try c.decodeIfPresent(Bool.self, forKey: .secondConnection) ?? true
        selection = try FileSelection(from: decoder)
    }

    public func validate() throws {
        _ = try SMBEndpoint(url: url)
        _ = try protocolRange()
        try PasswordSetting.validate(password, file: passwordFile)
        if guest {
            if username != nil { throw ConfigIssue(key: "username", message: "is not used with guest = true") }
            if password != nil || passwordFile != nil { throw ConfigIssue(key: password != nil ? "password" : "password_file", message: "is not used with guest = true") }
        } else if (username ?? "").isEmpty {
            throw ConfigIssue(key: "username", message: "is required (or guest = true for a guest share)")
        }
        let smb1 = try protocolRange().allowsSMB1
        if encryption == .required && (guest || smb1) {
            throw ConfigIssue(key: "encryption", message: "\"required\" cannot work with \(guest ? "guest = true" : "SMB1 (protocols = \"\(protocols ?? "")\")"): neither can encrypt")
        }
        if timeout.seconds <= 0 { throw ConfigIssue(key: "timeout", message: "must be more than 0 s") }
        try selection.validate()
    }

    func protocolRange() throws(ConfigIssue) -> SMBProtocolRange {
        guard let protocols else { return .modern }
        return try SMBProtocolRange(setting: protocols)
    }

    public static let sample = """
        type = "smb"
        url = "smb://press-01.plant.lan/logs"
        glob = "*.txt"
        protocols = "NT1"
        username = "${PRESS01_USER}"
        password = "${PRESS01_PASSWORD}"
        timeout = "30s"
        """
}

extension SMBConfiguration {
    /// In a helper process when the executable provides one (`SMBIsolation`), else in-process.
    public func makeIsolatedOrLocalSource(context: PluginBuildContext) throws -> any Source {
        guard let command = SMBIsolation.helperCommand else { return try makeSource(context: context) }
        let endpoint = try SMBEndpoint(url: url)
        let secret = try PasswordSetting.resolve(password, file: passwordFile, context: context, plugin: "smb") ?? Secret("")
        let login = SMBLogin(user: guest ? "" : username ?? "", domain: domain ?? "", password: guest ? Secret("") : secret)
        _ = try protocolRange()
        var logger = context.logger
        logger[metadataKey: "share"] = "\(endpoint)"
        let client = SMBHelperClient(command: command, endpoint: endpoint, protocols: protocols, login: login, guest: guest, encryption: encryption,
                                     timeoutSeconds: timeout.seconds, logger: logger)
        return TailingSource(fileSystem: RemoteFileSystem(client: client, logger: logger), options: selection.tailerOptions())
    }

    /// Bytes per block of an in-process bulk read (`SMBReadBlocks`).
    public static let inProcessReadBlock = 1 << 20

    /// In-process: libsmbclient on this process's SMB thread. `readBlockSize` 0 reads every
    /// chunk from the share as asked.
    public func makeSource(context: PluginBuildContext, readBlockSize: Int = inProcessReadBlock) throws -> TailingSource<SMBFileSystem> {
        let endpoint = try SMBEndpoint(url: url)
        let secret = try PasswordSetting.resolve(password, file: passwordFile, context: context, plugin: "smb") ?? Secret("")
        let login = SMBLogin(user: guest ? "" : username ?? "", domain: domain ?? "", password: guest ? Secret("") : secret)
        var logger = context.logger
        logger[metadataKey: "share"] = "\(endpoint)"
        let client = SMBClient(endpoint: endpoint, protocols: try protocolRange(), login: login, guest: guest, encryption: encryption,
                               timeoutSeconds: timeout.seconds, readBlockSize: readBlockSize, secondConnection: secondConnection, logger: logger)
        return TailingSource(fileSystem: SMBFileSystem(client: client, logger: logger), options: selection.tailerOptions())
    }
}
