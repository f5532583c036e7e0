import Foundation
import Synchronization

/// Set by SIGINT; training stops after the current batch and saves its checkpoint.
let interruptRequested = Atomic<Bool>(false)

enum Interruption {
    /// The first Ctrl-C asks training to stop cleanly; a second one ends the process at once.
    static func install() {
        signal(SIGINT) { _ in
            if interruptRequested.exchange(true, ordering: .relaxed) { _exit(130) }
        }
    }
}
