import ConnectorKit
import CoreConnectors

/// A libssh2 failure, classified, with a message that says what to do.
public struct SSHError: RemoteFileError, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The host's key is not in known_hosts (the message prints its fingerprint and the line to add).
        case hostKeyUnknown
        /// The host's key differs from the one in known_hosts: refused loudly.
        case hostKeyChanged
        /// No host key both sides support (an RSA-only server: libssh2 1.10 has no rsa-sha2).
        case hostKeyUnsupported
        case authenticationFailed
        /// The private key file cannot be read or decrypted.
        case keyFile
        case hostUnreachable
        case timeout
        case connectionLost
        case notFound
        case permissionDenied
        case other
    }

    public var kind: Kind
    /// Relative to the source's folder; "" for the folder or the connection.
    public var path: String
    public var message: String

    public var description: String { message }

    public var fileSystemError: FileSystemError {
        let k: FileSystemError.Kind = switch kind {
        // Not retried in a storm: waiting does not change a key or a credential.
        case .hostKeyUnknown, .hostKeyChanged, .hostKeyUnsupported, .authenticationFailed, .keyFile: .authentication
        case .hostUnreachable, .timeout, .connectionLost: .notConnected
        case .notFound: .notFound
        case .permissionDenied: .permissionDenied
        case .other: .other
        }
        return FileSystemError(k, path: path, message)
    }
}
