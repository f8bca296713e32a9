#!/usr/bin/env python3
"""Peer solvers on one Li & Lim instance, printing {"routes": [[task ids]]}.

usage: peer_solvers.py {pyvrp,vroom,ortools} INSTANCE TIME_LIMIT_MS SEED

Integer models: distances scaled by 100 and rounded for cost; travel times
scaled by 100 and rounded up, so an integer-feasible schedule is feasible
in floating point (the verifier re-costs every route unrounded). A large
fixed cost per vehicle makes each minimise vehicles first, as the benchmark
ranks. Run with the venv made by install.sh.
"""
import json, math, sys

SCALE = 100
VEHICLE_COST = 10_000_000  # dominates any distance (x100) on these instances


def load(path):
    rows = [l.split() for l in open(path) if l.strip()]
    k, q = int(rows[0][0]), int(float(rows[0][1]))
    nodes = []
    for r in rows[1:]:
        nodes.append(dict(id=int(r[0]), x=float(r[1]), y=float(r[2]), q=int(float(r[3])), e=float(r[4]),
                          l=float(r[5]), s=float(r[6]), p=int(r[7]), d=int(r[8])))
    return k, q, nodes


def matrices(nodes):
    n = len(nodes)
    dist = [[0] * n for _ in range(n)]
    dur = [[0] * n for _ in range(n)]
    for a in range(n):
        for b in range(n):
            d = math.hypot(nodes[a]["x"] - nodes[b]["x"], nodes[a]["y"] - nodes[b]["y"])
            dist[a][b] = round(d * SCALE)
            dur[a][b] = math.ceil(d * SCALE - 1e-9)
    return dist, dur


def pairs(nodes):
    return [(n["id"], n["d"]) for n in nodes[1:] if n["q"] > 0]


def pyvrp(k, q, nodes, limit_ms, seed):
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime
    dist, dur = matrices(nodes)
    m = Model()
    locs = [m.add_location(n["x"], n["y"]) for n in nodes]
    dep = nodes[0]
    depot = m.add_depot(locs[0], tw_early=int(dep["e"] * SCALE), tw_late=int(dep["l"] * SCALE))
    m.add_vehicle_type(num_available=k, capacity=[q], start_depot=depot, end_depot=depot,
                       fixed_cost=VEHICLE_COST, tw_early=int(dep["e"] * SCALE), tw_late=int(dep["l"] * SCALE))
    ps = pairs(nodes)
    for p, d in ps:
        a, b = nodes[p], nodes[d]
        m.add_shipment(locs[p], locs[d],
                       pickup_tw_early=math.ceil(a["e"] * SCALE), pickup_tw_late=int(a["l"] * SCALE),
                       pickup_service_duration=math.ceil(a["s"] * SCALE),
                       delivery_tw_early=math.ceil(b["e"] * SCALE), delivery_tw_late=int(b["l"] * SCALE),
                       delivery_service_duration=math.ceil(b["s"] * SCALE), amount=[a["q"]])
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            m.add_edge(a, b, dist[i][j], dur[i][j])
    res = m.solve(MaxRuntime(limit_ms / 1000), seed=seed, display=False)
    routes = []
    for r in res.best.routes():
        tasks = []
        for act in r.schedule():
            if act.is_pickup():
                tasks.append(ps[act.idx][0])
            elif act.is_delivery():
                tasks.append(ps[act.idx][1])
        routes.append(tasks)
    return routes


def vroom(k, q, nodes, limit_ms, seed):
    import datetime
    import vroom as v
    dist, dur = matrices(nodes)
    inp = v.Input()
    inp.set_durations_matrix(profile="car", matrix_input=dur)
    inp.set_costs_matrix(profile="car", matrix_input=dist)
    dep = nodes[0]
    tw = v.TimeWindow(int(dep["e"] * SCALE), int(dep["l"] * SCALE))
    for i in range(k):
        inp.add_vehicle(v.Vehicle(i + 1, start=0, end=0, capacity=[q], time_window=tw,
                                  costs=v.VehicleCosts(fixed=VEHICLE_COST)))
    for p, d in pairs(nodes):
        a, b = nodes[p], nodes[d]
        pick = v.ShipmentStep(p, location=p, default_service=math.ceil(a["s"] * SCALE),
                              time_windows=[v.TimeWindow(math.ceil(a["e"] * SCALE), int(a["l"] * SCALE))])
        drop = v.ShipmentStep(d, location=d, default_service=math.ceil(b["s"] * SCALE),
                              time_windows=[v.TimeWindow(math.ceil(b["e"] * SCALE), int(b["l"] * SCALE))])
        inp.add_shipment(pick, drop, amount=v.Amount([a["q"]]))
    sol = inp.solve(exploration_level=5, nb_threads=1, timeout=datetime.timedelta(milliseconds=limit_ms))
    routes = {}
    df = sol.routes
    for _, row in df.iterrows():
        if row["type"] in ("pickup", "delivery"):
            routes.setdefault(row["vehicle_id"], []).append(int(row["id"]))
    return list(routes.values())


def ortools(k, q, nodes, limit_ms, seed):
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2
    dist, dur = matrices(nodes)
    n = len(nodes)
    mgr = pywrapcp.RoutingIndexManager(n, k, 0)
    rm = pywrapcp.RoutingModel(mgr)
    cost_cb = rm.RegisterTransitCallback(lambda i, j: dist[mgr.IndexToNode(i)][mgr.IndexToNode(j)])
    rm.SetArcCostEvaluatorOfAllVehicles(cost_cb)
    rm.SetFixedCostOfAllVehicles(VEHICLE_COST)
    service = [math.ceil(nd["s"] * SCALE) for nd in nodes]
    time_cb = rm.RegisterTransitCallback(
        lambda i, j: service[mgr.IndexToNode(i)] + dur[mgr.IndexToNode(i)][mgr.IndexToNode(j)])
    horizon = int(nodes[0]["l"] * SCALE)
    rm.AddDimension(time_cb, horizon, horizon, False, "time")
    time = rm.GetDimensionOrDie("time")
    for i, nd in enumerate(nodes):
        if i == 0:
            continue
        time.CumulVar(mgr.NodeToIndex(i)).SetRange(math.ceil(nd["e"] * SCALE), int(nd["l"] * SCALE))
    for v in range(k):
        time.CumulVar(rm.Start(v)).SetRange(0, horizon)
        time.CumulVar(rm.End(v)).SetRange(0, horizon)
    demand_cb = rm.RegisterUnaryTransitCallback(lambda i: nodes[mgr.IndexToNode(i)]["q"])
    rm.AddDimensionWithVehicleCapacity(demand_cb, 0, [q] * k, True, "load")
    for p, d in pairs(nodes):
        pi, di = mgr.NodeToIndex(p), mgr.NodeToIndex(d)
        rm.AddPickupAndDelivery(pi, di)
        rm.solver().Add(rm.VehicleVar(pi) == rm.VehicleVar(di))
        rm.solver().Add(time.CumulVar(pi) <= time.CumulVar(di))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(limit_ms)
    sol = rm.SolveWithParameters(params)
    if sol is None:
        raise SystemExit("ortools: no solution within the time limit")
    routes = []
    for v in range(k):
        idx, r = rm.Start(v), []
        idx = sol.Value(rm.NextVar(idx))
        while not rm.IsEnd(idx):
            r.append(mgr.IndexToNode(idx))
            idx = sol.Value(rm.NextVar(idx))
        if r:
            routes.append(r)
    return routes


def main():
    solver, path, limit_ms, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    k, q, nodes = load(path)
    routes = {"pyvrp": pyvrp, "vroom": vroom, "ortools": ortools}[solver](k, q, nodes, limit_ms, seed)
    print(json.dumps({"routes": routes}))


if __name__ == "__main__":
    main()
