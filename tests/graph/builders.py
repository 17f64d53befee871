"""Small graph builders shared by the graph tests."""

from graph.model import Graph, Project


def net(*layers, input=(3, 32, 32), blocks=None):
    """Input -> layers (each (type, params) or a type name) -> Output, as a chain."""
    g = Graph()
    nodes = [g.add("Input", "input", shape=list(input))]
    for i, spec in enumerate(layers):
        t, params = (spec, {}) if isinstance(spec, str) else spec
        nodes.append(g.add(t, f"l{i}", **params))
    nodes.append(g.add("Output", "output"))
    g.chain(*nodes)
    return Project("t", g, blocks or {}), nodes
