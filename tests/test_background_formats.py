"""EcoSpold 2 (bw2io), SimaPro CSV (bw2io) and openLCA 2 JSON-LD imports, each from a small file
made here in the format's own structure; expected footprints worked out by hand."""

from __future__ import annotations

import json
import uuid
import zipfile

import pytest
from test_background_import import CH4_FOSSIL, footprint_of

GRID = 0.5 + 0.001 * CH4_FOSSIL  # kg CO2e per kWh of every fixture's grid: 0.5 kg CO2 + 1 g fossil methane


def spold(activity: str, name: str, product: str, product_name: str, unit: str, inputs=(), elementary=()) -> str:
    """One EcoSpold 2 dataset as ecoinvent ships it (the elements bw2io reads)."""
    flows = [f'<intermediateExchange id="{uuid.uuid4()}" intermediateExchangeId="{product}" amount="1">'
             f'<name>{product_name}</name><unitName>{unit}</unitName><outputGroup>0</outputGroup>'
             '</intermediateExchange>']
    flows += [f'<intermediateExchange id="{uuid.uuid4()}" intermediateExchangeId="{pid}" activityLinkId="{link}" '
              f'amount="{amount}"><name>{pname}</name><unitName>{punit}</unitName><inputGroup>5</inputGroup>'
              '</intermediateExchange>' for link, pid, pname, punit, amount in inputs]
    flows += [f'<elementaryExchange id="{uuid.uuid4()}" elementaryExchangeId="{fid}" amount="{amount}">'
              f'<name>{fname}</name><unitName>kg</unitName><compartment><compartment>air</compartment>'
              '<subcompartment>unspecified</subcompartment></compartment><outputGroup>4</outputGroup>'
              '</elementaryExchange>' for fid, fname, amount in elementary]
    return ('<?xml version="1.0" encoding="UTF-8"?><ecoSpold xmlns="http://www.EcoInvent.org/EcoSpold02">'
            f'<activityDataset><activityDescription><activity id="{activity}" specialActivityType="0">'
            f'<activityName>{name}</activityName></activity><geography><shortname>GLO</shortname></geography>'
            '<technology technologyLevel="3"/><timePeriod startDate="2020-01-01" endDate="2020-12-31" '
            f'isDataValidForEntirePeriod="true"/></activityDescription><flowData>{"".join(flows)}</flowData>'
            '<administrativeInformation><dataEntryBy personName="A"/><dataGeneratorAndPublication personName="A"/>'
            '</administrativeInformation></activityDataset></ecoSpold>')


@pytest.fixture(scope="module")
def bio(project):
    from footprint.engine.background import biosphere_codes

    codes = biosphere_codes()
    return {"co2": codes[("Carbon dioxide, fossil", ("air",))], "ch4": codes[("Methane, fossil", ("air",))]}


def test_ecospold2_through_bw2io(bio, tmp_path):
    from footprint.exchange.background import import_database, search

    grid, power, mill, steel = (str(uuid.uuid4()) for _ in range(4))
    source = tmp_path / "datasets.zip"
    with zipfile.ZipFile(source, "w") as z:
        z.writestr("datasets/grid.spold", spold(grid, "electricity production", power, "electricity", "kWh",
                                                elementary=[(bio["co2"], "Carbon dioxide, fossil", 0.5),
                                                            (bio["ch4"], "Methane, fossil", 0.001)]))
        z.writestr("datasets/mill.spold", spold(mill, "steel production", steel, "steel", "kg",
                                                inputs=[(grid, power, "electricity", "kWh", 2.0),
                                                        (str(uuid.uuid4()), str(uuid.uuid4()), "ghost", "kg", 1.0)],
                                                elementary=[(bio["co2"], "Carbon dioxide, fossil", 1.0)]))
    report = import_database(source, "ecospold2", "es2-test")
    [hit] = search("es2-test", "steel")
    assert footprint_of("es2-test", hit["code"]) == pytest.approx(1.0 + 2.0 * GRID, rel=1e-6)
    assert report.datasets_written == 2 and report.technosphere_linked == 1
    assert sum(sum(c.values()) for c in report.unlinked.values()) == 1  # the ghost input, named, not silent
    assert report.ghg_mapped["Carbon dioxide, fossil"] == {"Carbon dioxide, fossil": 2}


def test_ecospold2_refuses_flows_missing_from_biosphere3(bio, tmp_path):
    import bw2data as bd

    from footprint.exchange.background import ImportRefused, import_database

    folder = tmp_path / "datasets"
    folder.mkdir()
    newer = str(uuid.uuid4())  # an elementary flow of a newer ecoinvent flow list
    (folder / "grid.spold").write_text(spold(str(uuid.uuid4()), "electricity production", str(uuid.uuid4()),
                                             "electricity", "kWh", elementary=[(newer, "Carbon dioxide, fossil", 1)]))
    with pytest.raises(ImportRefused, match=rf"1 elementary flows do not match.*{newer}.*3.10 and later"):
        import_database(folder, "ecospold2", "es2-newer")
    assert "es2-newer" not in bd.databases


SIMAPRO = """{SimaPro 9.5.0.0}
{processes}
{Project: Test}
{CSV Format version: 9.0.0}
{CSV separator: Semicolon}
{Decimal separator: .}

Process

Category type
material

Process identifier
TEST0001

Process name
Steel

Products
Steel, at plant;kg;1;80;not defined;Metals;
Slag, at plant;kg;0.5;20;not defined;Metals;

Materials/fuels
Electricity, at grid;kWh;2;Undefined;0;0;0;
Ghost input;kg;1;Undefined;0;0;0;

Emissions to air
Carbon dioxide, fossil;;kg;1;Undefined;0;0;0;
Carbon dioxide;;kg;0.1;Undefined;0;0;0;
Hydrofluorocarbons;;kg;0.0001;Undefined;0;0;0;

End

Process

Category type
energy

Process identifier
TEST0002

Process name
Grid

Products
Electricity, at grid;kWh;1;100;not defined;Energy;

Emissions to air
Carbon dioxide, fossil;;kg;0.5;Undefined;0;0;0;
Methane, fossil;;kg;0.001;Undefined;0;0;0;

End

Quantities
Mass;Yes

End
"""


def test_simapro_csv_through_bw2io(project, tmp_path):
    from footprint.exchange.background import import_database, search

    source = tmp_path / "export.csv"
    source.write_text(SIMAPRO, encoding="latin-1")
    report = import_database(source, "simapro-csv", "sp-test")
    codes = {h["name"]: h["code"] for h in search("sp-test", "at")}
    burden = 1.0 + 0.1 + 2 * GRID  # bare "Carbon dioxide" counts as fossil; the HFC group has no factor
    assert footprint_of("sp-test", codes["Steel, at plant"]) == pytest.approx(0.8 * burden / 1, rel=1e-6)
    assert footprint_of("sp-test", codes["Slag, at plant"]) == pytest.approx(0.2 * burden / 0.5, rel=1e-6)
    assert report.unlinked["no provider in the file"] == {"Ghost input [kilogram]": 2}  # once per allocated product
    assert report.ghg_dropped["Hydrofluorocarbons"]["exchanges"] == 2
    assert report.ghg_mapped["Carbon dioxide, fossil"]["Carbon dioxide"] == 2
    [multi] = report.multi_output
    assert [s for _, _, s in multi.products] == [0.8, 0.2]


def olca_zip(path, location_code="US") -> None:
    """An openLCA 2 JSON-LD export: unit groups, flow properties, flows, a location and two processes."""
    ref = lambda kind, obj: {"@type": kind, "@id": obj["@id"], "name": obj.get("name")}  # noqa: E731
    kg, t = {"@id": "u-kg", "name": "kg", "conversionFactor": 1.0, "isRefUnit": True}, \
        {"@id": "u-t", "name": "t", "conversionFactor": 1000.0}
    mj, kwh = {"@id": "u-mj", "name": "MJ", "conversionFactor": 1.0, "isRefUnit": True}, \
        {"@id": "u-kwh", "name": "kWh", "conversionFactor": 3.6}
    groups = [{"@type": "UnitGroup", "@id": "ug-mass", "name": "Units of mass", "units": [kg, t]},
              {"@type": "UnitGroup", "@id": "ug-energy", "name": "Units of energy", "units": [mj, kwh]}]
    mass = {"@type": "FlowProperty", "@id": "fp-mass", "name": "Mass", "unitGroup": ref("UnitGroup", groups[0])}
    energy = {"@type": "FlowProperty", "@id": "fp-energy", "name": "Energy", "unitGroup": ref("UnitGroup", groups[1])}

    def flow(fid, name, kind, prop, category=""):
        return {"@type": "Flow", "@id": fid, "name": name, "flowType": kind, "category": category,
                "flowProperties": [{"flowProperty": ref("FlowProperty", prop), "conversionFactor": 1.0,
                                    "isRefFlowProperty": True}]}

    flows = [flow("f-el", "electricity", "PRODUCT_FLOW", energy), flow("f-steel", "steel", "PRODUCT_FLOW", mass),
             flow("f-slag", "slag", "PRODUCT_FLOW", mass), flow("f-water", "water, deionised", "PRODUCT_FLOW", mass),
             flow("f-co2", "Carbon dioxide, fossil", "ELEMENTARY_FLOW", mass, "Elementary flows/Emission to air"),
             flow("f-ch4", "Methane", "ELEMENTARY_FLOW", mass, "Elementary flows/Emission to air/unspecified")]
    by_id = {f["@id"]: f for f in flows}

    def exchange(fid, amount, unit, prop, is_input=False, reference=False, provider=None):
        e = {"@type": "Exchange", "flow": ref("Flow", by_id[fid]) | {"flowType": by_id[fid]["flowType"]},
             "amount": amount, "unit": {"@type": "Unit", "@id": unit["@id"], "name": unit["name"]},
             "flowProperty": ref("FlowProperty", prop), "isInput": is_input, "isQuantitativeReference": reference}
        return e | ({"defaultProvider": {"@type": "Process", "@id": provider}} if provider else {})

    location = {"@type": "Location", "@id": "loc-us", "name": "United States", "code": location_code}
    grid = {"@type": "Process", "@id": "p-grid", "name": "grid", "location": ref("Location", location),
            "exchanges": [exchange("f-el", 1.0, kwh, energy, reference=True), exchange("f-co2", 0.5, kg, mass),
                          exchange("f-ch4", 0.001, kg, mass)]}
    mill = {"@type": "Process", "@id": "p-mill", "name": "steel mill", "location": ref("Location", location),
            "defaultAllocationMethod": "PHYSICAL_ALLOCATION",
            "allocationFactors": [{"allocationType": "PHYSICAL_ALLOCATION", "product": ref("Flow", by_id["f-steel"]),
                                   "value": 0.8},
                                  {"allocationType": "PHYSICAL_ALLOCATION", "product": ref("Flow", by_id["f-slag"]),
                                   "value": 0.2}],
            "exchanges": [exchange("f-steel", 1.0, t, mass, reference=True), exchange("f-slag", 200.0, kg, mass),
                          exchange("f-el", 500.0, kwh, energy, is_input=True, provider="p-grid"),
                          exchange("f-water", 3.0, t, mass, is_input=True), exchange("f-co2", 1.0, t, mass)]}
    with zipfile.ZipFile(path, "w") as z:
        for folder, objs in (("unit_groups", groups), ("flow_properties", [mass, energy]), ("flows", flows),
                             ("locations", [location]), ("processes", [grid, mill])):
            for obj in objs:
                z.writestr(f"{folder}/{obj['@id']}.json", json.dumps(obj))


def test_olca_jsonld_units_allocation_and_providers(project, tmp_path):
    import bw2data as bd

    from footprint.exchange.background import import_database

    source = tmp_path / "olca-export.zip"
    olca_zip(source)
    report = import_database(source, "olca-jsonld", "olca-test")
    per_mj = GRID / 3.6  # the electricity flow's reference unit is MJ; the grid makes 1 kWh
    burden = 1000 * 1.0 + 500 * 3.6 * per_mj  # 1 t CO2 and 500 kWh for 1 t steel and 200 kg slag
    assert footprint_of("olca-test", "p-grid") == pytest.approx(per_mj, rel=1e-6)
    assert footprint_of("olca-test", "p-mill") == pytest.approx(0.8 * burden / 1000, rel=1e-6)
    assert footprint_of("olca-test", "p-mill-f-slag") == pytest.approx(0.2 * burden / 200, rel=1e-6)
    mill = bd.get_node(database="olca-test", code="p-mill")
    assert (mill["unit"], mill["location"]) == ("kilogram", "US")
    assert report.unlinked["no provider in the export"] == {"water, deionised": 1}
    assert report.ghg_mapped["Methane, fossil"] == {"Methane": 1}
    assert report.multi_output[0].rule == "allocated by the export's physical allocation factors"
