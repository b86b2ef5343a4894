import Foundation

/// When each waiting spool entry is next due: a binary min-heap ordered by time, then by the
/// order of scheduling (first in, first out among equal times).
///
/// The spool runner wakes on every commit and every finished attempt; with a heap each wake-up
/// costs O(log n) per entry started instead of a scan and sort of the whole queue, so 100,000
/// deferred entries do not slow down the delivery of a fresh one.
struct DeliverySchedule {
    private struct Item {
        var due: Date
        var sequence: UInt64
        var id: String

        func precedes(_ other: Item) -> Bool {
            due != other.due ? due < other.due : sequence < other.sequence
        }
    }

    private var heap: [Item] = []
    private var nextSequence: UInt64 = 0

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }

    /// The earliest due time, if anything is scheduled.
    var nextDue: Date? { heap.first?.due }

    /// Schedules `id` at `due`. The caller keeps each id in the schedule at most once.
    mutating func schedule(_ id: String, at due: Date) {
        heap.append(Item(due: due, sequence: nextSequence, id: id))
        nextSequence &+= 1
        siftUp(heap.count - 1)
    }

    /// Removes and returns up to `limit` ids due at or before `now`, earliest first.
    mutating func popDue(now: Date, limit: Int) -> [String] {
        var due: [String] = []
        while due.count < limit, let first = heap.first, first.due <= now {
            due.append(first.id)
            removeFirst()
        }
        return due
    }

    /// Removes `id` wherever it is (an operator held, deleted or flushed it). O(n): a search,
    /// then one sift; administration is rare, delivery wake-ups stay O(log n).
    mutating func remove(_ id: String) {
        guard let index = heap.firstIndex(where: { $0.id == id }) else { return }
        let last = heap.removeLast()
        guard index < heap.count else { return }
        heap[index] = last
        siftDown(index)
        siftUp(index)
    }

    /// Whether `id` is scheduled.
    func contains(_ id: String) -> Bool {
        heap.contains { $0.id == id }
    }

    /// Removes everything (for a rebuild, e.g. when every entry is made due at once).
    mutating func removeAll() {
        heap.removeAll()
    }

    private mutating func removeFirst() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            let right = left + 1
            if right < heap.count, heap[right].precedes(heap[left]) { smallest = right }
            guard heap[smallest].precedes(heap[parent]) else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
