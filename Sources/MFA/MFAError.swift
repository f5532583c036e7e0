/// Every failure a user can cause or meet, each with a one-line description.
public enum MFAError: Error, CustomStringConvertible, Equatable {
    /// An option or argument outside its allowed values.
    case invalidArgument(String)
    /// Data or model tensors whose sizes disagree.
    case shapeMismatch(String)
    /// NaN or infinity in input data, with where it was found.
    case nonFiniteInput(String)
    /// A file that is not what it claims to be: truncated, wrong magic, lying header.
    case malformedFile(path: String, reason: String)
    /// A file that cannot be opened, read or written.
    case fileAccess(path: String, reason: String)
    /// Training produced NaN or infinity.
    case diverged(String)
    /// A numerical routine failed (e.g. a component whose precision is not positive definite).
    case numerical(String)
    /// A compute device failed: no driver or device, a kernel that does not build, an allocation.
    case device(String)
    /// Training was stopped on request (SIGINT, SIGTERM), after saving what the message says.
    case interrupted(String)
    /// A checkpoint made with another value of a setting that changes the result (`setting` is
    /// the core's name for it, e.g. "learning_rate"; the command line words it as its option).
    case resumeMismatch(setting: String, saved: String, current: String)

    public var description: String {
        switch self {
        case .invalidArgument(let message): return message
        case .shapeMismatch(let message): return "shape mismatch: \(message)"
        case .nonFiniteInput(let message): return "non-finite input: \(message)"
        case .malformedFile(let path, let reason): return "\(path): \(reason)"
        case .fileAccess(let path, let reason): return "\(path): \(reason)"
        case .diverged(let message): return "training diverged: \(message)"
        case .numerical(let message): return "numerical failure: \(message)"
        case .device(let message): return "device: \(message)"
        case .interrupted(let message): return "interrupted: \(message)"
        case .resumeMismatch(let setting, let saved, let current):
            return "the checkpoint was made with \(setting) \(saved), this run has \(current); resume with the options it was started with"
        }
    }
}
