/// A dictionary with a size bound that evicts the least recently used entry
/// (a doubly linked list threaded through an array, with a free list: O(1) per operation).
struct LRUCache<Key: Hashable, Value> {
    private struct Node {
        var key: Key
        var value: Value
        var previous: Int?
        var next: Int?
    }

    let capacity: Int
    private var nodes: [Node?] = []
    private var indexByKey: [Key: Int] = [:]
    private var free: [Int] = []
    private var head: Int?  // most recently used
    private var tail: Int?  // least recently used

    init(capacity: Int) {
        precondition(capacity > 0, "an LRU cache holds at least one entry")
        self.capacity = capacity
    }

    var count: Int { indexByKey.count }

    /// The value, which becomes the most recently used.
    mutating func value(forKey key: Key) -> Value? {
        guard let index = indexByKey[key] else { return nil }
        moveToFront(index)
        return nodes[index]?.value
    }

    /// Stores a value as the most recently used; returns the key evicted to make room, if any.
    @discardableResult
    mutating func setValue(_ value: Value, forKey key: Key) -> Key? {
        if let index = indexByKey[key] {
            nodes[index]?.value = value
            moveToFront(index)
            return nil
        }
        var evicted: Key? = nil
        if indexByKey.count >= capacity, let last = tail, let node = nodes[last] {
            evicted = node.key
            removeValue(forKey: node.key)
        }
        let node = Node(key: key, value: value, previous: nil, next: head)
        let index: Int
        if let reused = free.popLast() {
            index = reused
            nodes[index] = node
        } else {
            index = nodes.count
            nodes.append(node)
        }
        if let head { nodes[head]?.previous = index }
        head = index
        if tail == nil { tail = index }
        indexByKey[key] = index
        return evicted
    }

    mutating func removeValue(forKey key: Key) {
        guard let index = indexByKey.removeValue(forKey: key) else { return }
        unlink(index)
        nodes[index] = nil
        free.append(index)
    }

    mutating func removeAll() {
        nodes.removeAll()
        indexByKey.removeAll()
        free.removeAll()
        head = nil
        tail = nil
    }

    /// Keys from the most to the least recently used.
    var keys: [Key] {
        var result: [Key] = []
        var cursor = head
        while let index = cursor, let node = nodes[index] {
            result.append(node.key)
            cursor = node.next
        }
        return result
    }

    private mutating func moveToFront(_ index: Int) {
        guard head != index else { return }
        unlink(index)
        nodes[index]?.previous = nil
        nodes[index]?.next = head
        if let head { nodes[head]?.previous = index }
        head = index
        if tail == nil { tail = index }
    }

    private mutating func unlink(_ index: Int) {
        guard let node = nodes[index] else { return }
        if let previous = node.previous { nodes[previous]?.next = node.next } else { head = node.next }
        if let next = node.next { nodes[next]?.previous = node.previous } else { tail = node.previous }
        nodes[index]?.previous = nil
        nodes[index]?.next = nil
    }
}
