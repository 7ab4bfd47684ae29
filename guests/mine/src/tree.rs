//! Drain's fixed-depth parse tree.
//!
//! Messages are first split by token count, then by their leading tokens, one tree layer per
//! token, down to a leaf holding the few clusters worth comparing in full. That keeps the work per
//! message independent of how many patterns exist. Tokens with digits, and new tokens once a node
//! has `max_children` children, go down a shared wildcard branch, which bounds the tree's width.

use std::collections::HashMap;

use crate::intern::{FastHash, TokenId, WILDCARD};
use crate::tokenize::Token;

type NodeId = u32;

#[derive(Debug, Default)]
struct Node {
    children: HashMap<TokenId, NodeId, FastHash>,
    wildcard: Option<NodeId>,
    /// Clusters in creation order (at leaves only).
    clusters: Vec<u32>,
}

/// The parse tree. Clusters are referred to by their index in the miner's list.
#[derive(Debug)]
pub struct Tree {
    by_length: HashMap<usize, NodeId, FastHash>,
    nodes: Vec<Node>,
    /// Token layers between the length layer and the leaves: Drain's `depth` minus the root and
    /// length layers.
    layers: usize,
    max_children: usize,
}

impl Tree {
    /// An empty tree; `depth` counts the root and the length layer, as in Drain (at least 3).
    pub fn new(depth: usize, max_children: usize) -> Self {
        Self {
            by_length: HashMap::default(),
            nodes: Vec::new(),
            layers: depth.saturating_sub(2).max(1),
            max_children: max_children.max(2),
        }
    }

    /// Number of route keys a message of `len` tokens has.
    pub fn route_len(&self, len: usize) -> usize {
        len.min(self.layers)
    }

    /// The clusters of the leaf `message` leads to, or none when no branch fits. Exact tokens are
    /// followed first, the wildcard branch otherwise.
    #[inline]
    pub fn leaf(&self, message: &[Token]) -> &[u32] {
        let Some(&start) = self.by_length.get(&message.len()) else {
            return &[];
        };
        let mut node = self.node(start);
        for token in message.iter().take(self.layers) {
            let next = node.children.get(&token.id).copied().or(node.wildcard);
            match next {
                Some(next) => node = self.node(next),
                None => return &[],
            }
        }
        &node.clusters
    }

    /// Adds a new cluster whose template is `message`, creating branches as Drain does; returns
    /// the route it took, to be stored with the cluster.
    pub fn insert(&mut self, message: &[Token], cluster: u32) -> Vec<TokenId> {
        let mut node = self.length_node(message.len());
        let mut route = Vec::with_capacity(self.route_len(message.len()));
        for token in message.iter().take(self.layers) {
            let key = self.branch_for(node, token);
            node = self.child(node, key);
            route.push(key);
        }
        self.push_cluster(node, cluster);
        route
    }

    /// Adds a cluster along a stored `route`, exactly as it was placed when created.
    pub fn insert_along(&mut self, len: usize, route: &[TokenId], cluster: u32) {
        let mut node = self.length_node(len);
        for &key in route {
            node = self.child(node, key);
        }
        self.push_cluster(node, cluster);
    }

    /// Which branch a new cluster's `token` goes down at `node` (Drain's rule): its own branch
    /// while the node has room, the wildcard branch for tokens with digits, wildcards, and
    /// everything once the node is full. The wildcard branch takes the last free place.
    fn branch_for(&self, node: NodeId, token: &Token) -> TokenId {
        let node = self.node(node);
        if token.id == WILDCARD || token.has_digit {
            return WILDCARD;
        }
        if node.children.contains_key(&token.id) {
            return token.id;
        }
        let used = node.children.len() + usize::from(node.wildcard.is_some());
        let room = if node.wildcard.is_some() { used < self.max_children } else { used + 1 < self.max_children };
        if room { token.id } else { WILDCARD }
    }

    fn length_node(&mut self, len: usize) -> NodeId {
        if let Some(&node) = self.by_length.get(&len) {
            return node;
        }
        let node = self.new_node();
        self.by_length.insert(len, node);
        node
    }

    fn child(&mut self, parent: NodeId, key: TokenId) -> NodeId {
        let existing = {
            let node = self.node(parent);
            if key == WILDCARD { node.wildcard } else { node.children.get(&key).copied() }
        };
        if let Some(child) = existing {
            return child;
        }
        let child = self.new_node();
        if let Some(node) = self.nodes.get_mut(index(parent)) {
            if key == WILDCARD {
                node.wildcard = Some(child);
            } else {
                node.children.insert(key, child);
            }
        }
        child
    }

    fn push_cluster(&mut self, node: NodeId, cluster: u32) {
        if let Some(node) = self.nodes.get_mut(index(node)) {
            node.clusters.push(cluster);
        }
    }

    fn new_node(&mut self) -> NodeId {
        self.nodes.push(Node::default());
        NodeId::try_from(self.nodes.len() - 1).unwrap_or(NodeId::MAX)
    }

    #[inline]
    fn node(&self, id: NodeId) -> &Node {
        static EMPTY: Node =
            Node { children: HashMap::with_hasher(FastHash::new()), wildcard: None, clusters: Vec::new() };
        self.nodes.get(index(id)).unwrap_or(&EMPTY)
    }
}

#[inline]
fn index(id: NodeId) -> usize {
    usize::try_from(id).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::Tree;
    use crate::intern::{Interner, WILDCARD};
    use crate::tokenize::tokens;

    #[test]
    fn routes_by_length_and_leading_tokens() {
        let mut interner = Interner::default();
        let mut tree = Tree::new(4, 100);
        let a = tokens(&mut interner, "connection opened to db");
        let b = tokens(&mut interner, "connection closed to db");
        let c = tokens(&mut interner, "connection opened");
        tree.insert(&a, 0);
        tree.insert(&b, 1);
        tree.insert(&c, 2);
        assert_eq!(tree.leaf(&a), [0]);
        assert_eq!(tree.leaf(&b), [1]);
        assert_eq!(tree.leaf(&c), [2]);
        let d = tokens(&mut interner, "connection reset to db");
        assert!(tree.leaf(&d).is_empty());
    }

    #[test]
    fn digits_go_to_the_wildcard_branch() {
        let mut interner = Interner::default();
        let mut tree = Tree::new(4, 100);
        let a = tokens(&mut interner, "job42 started now");
        let route = tree.insert(&a, 0);
        assert_eq!(route[0], WILDCARD);
        let b = tokens(&mut interner, "job43 started now");
        assert_eq!(tree.leaf(&b), [0]);
    }

    #[test]
    fn full_nodes_send_new_tokens_to_the_wildcard() {
        let mut interner = Interner::default();
        let mut tree = Tree::new(3, 3);
        let routes: Vec<_> = ["a x", "b x", "c x", "d x"]
            .iter()
            .enumerate()
            .map(|(i, m)| tree.insert(&tokens(&mut interner, m), u32::try_from(i).unwrap()))
            .collect();
        assert_ne!(routes[0][0], WILDCARD);
        assert_ne!(routes[1][0], WILDCARD);
        assert_eq!(routes[2][0], WILDCARD);
        assert_eq!(routes[3][0], WILDCARD);
        let e = tokens(&mut interner, "e x");
        assert_eq!(tree.leaf(&e), [2, 3]);
    }

    #[test]
    fn stored_routes_rebuild_the_same_leaves() {
        let mut interner = Interner::default();
        let mut tree = Tree::new(4, 100);
        let a = tokens(&mut interner, "disk sda full");
        let route = tree.insert(&a, 0);
        let mut rebuilt = Tree::new(4, 100);
        rebuilt.insert_along(a.len(), &route, 0);
        assert_eq!(rebuilt.leaf(&a), [0]);
    }
}
