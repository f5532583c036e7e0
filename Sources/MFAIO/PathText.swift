/// Path arithmetic on text. Foundation's `NSString.deletingLastPathComponent` traps on a
/// one-character name ("c"), so that `-o c` crashed: the folder part is taken here instead.
public enum PathText {
    /// The folder part of `path`, as `deletingLastPathComponent` means it: "" for a bare name,
    /// "/" for a name in the root, trailing slashes ignored.
    public static func directory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }
}
