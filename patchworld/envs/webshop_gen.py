"""The WebShop-lite catalogue generator (``shared/data/webshop/gen_catalogue.py``, seed 20240601), any size.

15 product types (3 per category) get ``n_products // 15`` products each, the first
``n_products % 15`` types one more; per product, in this order of RNG use: asin, brand,
adjective, title suffix, 3-5 attributes, price, options (88% with the type's option groups,
8% of those empty, 12% ``null``), an instruction with probability 0.6; then the list is
shuffled. ``generate_catalogue(out, 390)`` writes the shipped ``data/envs/webshop`` files byte
for byte (tested). Bigger catalogues: ``patchworld generate --env webshop --catalogue-size N``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

__all__ = ["SEED", "TYPES", "generate_catalogue", "catalogue_data"]

SEED = 20240601
# fmt: off
BRANDS = ["Alder","Brisk","Corvo","Dalton","Elara","Fenwick","Galen","Halden","Ivora","Juno",
          "Kestrel","Lumora","Marlow","Norvik","Oriel","Pavona","Quillon","Rhea","Solvi","Tamsin",
          "Umber","Veyra","Wrenly","Xander","Yarrow","Zephra"]
COLORS = ["Black","White","Navy Blue","Grey","Red","Pink","Green","Beige","Black/White","Light Blue","Burgundy","Olive"]
# (category, query, product_category, type_phrase, type_nouns, adjectives, extras[(text, nouns)], attrs, options, price range)
Q = [
 ("fashion","women's t-shirts","Clothing, Shoes & Jewelry › Women › Clothing › Tops, Tees & Blouses › T-Shirts","Women's Tee Shirt",["women","tee","shirt"],
  ["Casual","Classic","Loose","Slim","Vintage"],[("Crew Neck Top",["crew","neck","top"]),("Summer Blouse",["summer","blouse"]),("V Neck Tunic",["neck","tunic"])],
  ["machine wash","short sleeve","long sleeve","relaxed fit","cotton spandex","soft material","daily wear"],
  {"color":"COLORS","size":["Small","Medium","Large","X-Large"]},(9,35)),
 ("fashion","men's shorts","Clothing, Shoes & Jewelry › Men › Clothing › Shorts","Men's Cargo Shorts",["men","cargo","shorts"],
  ["Relaxed","Classic","Lightweight","Stretch","Outdoor"],[("Hiking Pants",["hiking","pants"]),("with Pockets",["pockets"]),("Twill Bottoms",["twill","bottoms"])],
  ["machine wash","elastic waistband","quick drying","button closure","polyester cotton","regular fit"],
  {"color":"COLORS","size":["Small","Medium","Large","X-Large","XX-Large"]},(15,45)),
 ("fashion","running shoes","Clothing, Shoes & Jewelry › Men › Shoes › Athletic › Running","Running Shoes",["running","shoes"],
  ["Breathable","Lightweight","Cushioned","Trail","Classic"],[("Walking Sneakers",["sneakers"]),("Gym Trainers",["gym","trainers"]),("Tennis Shoes",["tennis","shoes"])],
  ["rubber sole","non slip","lace up","breathable mesh","arch support","lightweight design"],
  {"color":"COLORS","size":["7","8","9","10","11"]},(25,90)),
 ("beauty","body lotion","Beauty & Personal Care › Skin Care › Body › Moisturizers › Lotions","Body Lotion",["body","lotion"],
  ["Daily","Nourishing","Hydrating","Gentle","Rich"],[("with Shea Butter",["shea","butter"]),("Moisturizer Cream",["moisturizer","cream"]),("for Women and Men",["women","men"])],
  ["dry skin","natural ingredients","paraben free","shea butter","sensitive skin","long lasting"],
  {"scent":["Unscented","Lavender","Coconut","Vanilla"],"size":["8 Fl Oz","16 Fl Oz"]},(6,28)),
 ("beauty","hair brushes","Beauty & Personal Care › Hair Care › Styling Tools & Appliances › Hair Brushes","Detangling Hair Brush",["hair","brush"],
  ["Gentle","Professional","Flexible","Wooden","Classic"],[("for Curly Hair",["hair"]),("Paddle Comb",["paddle","comb"]),("with Boar Bristles",["boar","bristles"])],
  ["hair styling","wet hair","easy carry","high quality","damaged hair","travel size"],
  {"color":["Black","Pink","Purple","Gold"]},(7,25)),
 ("beauty","lipstick","Beauty & Personal Care › Makeup › Lips › Lipstick","Matte Lipstick",["lipstick"],
  ["Velvet","Creamy","Classic","Bold","Soft"],[("Lip Color",["lip","color"]),("Lip Stain Makeup",["lip","stain","makeup"]),("Gift Set",["gift","set"])],
  ["long lasting","cruelty free","easy apply","highly pigmented","travel size"],
  {"color":["Red","Pink","Nude","Plum","Coral","Wine"]},(5,22)),
 ("electronics","wireless earbuds","Electronics › Headphones, Earbuds & Accessories › Headphones › Earbud Headphones","Wireless Bluetooth Earbuds",["bluetooth","earbuds"],
  ["Compact","Sport","Premium","Mini","True"],[("with Charging Case",["charging","case"]),("Stereo Headphones",["stereo","headphones"]),("with Microphone",["microphone"])],
  ["noise cancelling","fast charging","long battery life","hands free","water resistant","high definition"],
  {"color":["Black","White","Navy Blue"]},(18,80)),
 ("electronics","phone cases","Cell Phones & Accessories › Cases, Holsters & Sleeves › Basic Cases","Phone Case",["phone","case"],
  ["Clear","Rugged","Slim","Matte","Protective"],[("with Card Holder",["card","holder"]),("Bumper Cover",["bumper","cover"]),("with Kickstand",["kickstand"])],
  ["shock absorption","wireless charging","easy install","slim design","heavy duty"],
  {"color":["Black","Clear","Blue","Pink"],"style":["iPhone 13","iPhone 14","Galaxy S22"]},(8,30)),
 ("electronics","hdmi cables","Electronics › Accessories & Supplies › Audio & Video Accessories › Cables › HDMI Cables","HDMI Cable",["hdmi","cable"],
  ["High Speed","Braided","Flat","Premium","Short"],[("Ethernet Cord",["ethernet","cord"]),("for TV Monitor",["tv","monitor"]),("Adapter Cord",["adapter","cord"])],
  ["high speed","gold plated","plug play","braided nylon","ultra hd"],
  {"size":["3 Ft","6 Ft","10 Ft","15 Ft"]},(6,24)),
 ("garden","throw pillow covers","Home & Kitchen › Home Décor Products › Decorative Pillows, Inserts & Covers › Throw Pillow Covers","Throw Pillow Cover",["throw","pillow","cover"],
  ["Decorative","Soft","Boho","Velvet","Farmhouse"],[("Set of 2",["set"]),("Cushion Case",["cushion","case"]),("for Couch Sofa",["couch","sofa"])],
  ["living room","machine washable","double sided","hidden zipper","super soft"],
  {"color":"COLORS","size":["16 x 16 Inch","18 x 18 Inch","20 x 20 Inch"]},(9,30)),
 ("garden","desk lamps","Tools & Home Improvement › Lighting & Ceiling Fans › Lamps & Shades › Desk Lamps","LED Desk Lamp",["led","desk","lamp"],
  ["Modern","Adjustable","Foldable","Minimalist","Dimmable"],[("with USB Charging Port",["usb","port"]),("Reading Light",["reading","light"]),("for Home Office",["home","office"])],
  ["eye caring","dimmable light","usb port","touch control","energy saving","living room"],
  {"color":["Black","White","Silver"]},(16,60)),
 ("garden","bath towels","Home & Kitchen › Bath › Towels › Bath Towels","Cotton Bath Towel Set",["cotton","bath","towel","set"],
  ["Luxury","Soft","Plush","Classic","Lightweight"],[("for Bathroom",["bathroom"]),("Hotel Spa Towels",["hotel","spa","towels"]),("Hand Towels",["hand","towels"])],
  ["quick drying","highly absorbent","machine washable","super soft","hotel quality"],
  {"color":"COLORS","size":["4 Piece","6 Piece","8 Piece"]},(20,65)),
 ("grocery","green tea","Grocery & Gourmet Food › Beverages › Coffee, Tea & Cocoa › Tea › Green","Organic Green Tea Bags",["tea","bags"],
  ["Pure","Premium","Classic","Japanese","Decaf"],[("Herbal Drink",["drink"]),("Loose Leaf Blend",["leaf","blend"]),("Variety Pack",["variety","pack"])],
  ["gluten free","usda organic","non gmo","individually wrapped","natural ingredients","caffeine free"],
  {"flavor name":["Original","Jasmine","Mint","Lemon Ginger"],"size":["20 Count","100 Count"]},(5,25)),
 ("grocery","protein bars","Grocery & Gourmet Food › Snacks & Sweets › Bars › Protein Bars","Protein Bars",["protein","bars"],
  ["Chewy","Crunchy","Baked","Classic","Plant Based"],[("Snack Pack",["snack","pack"]),("Meal Replacement",["meal","replacement"]),("Energy Snacks",["energy","snacks"])],
  ["gluten free","low sugar","high protein","keto friendly","individually wrapped","non gmo"],
  {"flavor name":["Chocolate","Peanut Butter","Cookies Cream","Salted Caramel"],"size":["12 Count","24 Count"]},(12,45)),
 ("grocery","beef jerky","Grocery & Gourmet Food › Meat & Seafood › Jerky","Beef Jerky",["beef","jerky"],
  ["Original","Smoked","Tender","Classic","Hickory"],[("Meat Snacks",["meat","snacks"]),("Steak Strips",["steak","strips"]),("Value Bag",["value","bag"])],
  ["high protein","low fat","gluten free","ready eat","keto friendly"],
  {"flavor name":["Original","Teriyaki","Peppered","Sweet Hot"],"size":["3.25 Ounce","10 Ounce"]},(8,40)),
]
# fmt: on
TYPES = Q
"""(category, query, product_category, type phrase, type nouns, adjectives, title suffixes, attributes, options,
price range) per product type."""
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _instruction(rng: random.Random, query: str, attrs: list[str]) -> str:
    form = rng.randrange(3)
    if len(attrs) == 1 or form == 0:
        return f"Find me {', '.join(attrs)} {query}"
    if form == 1:
        return f"Find me {', '.join(attrs[:-1])} {query} with {attrs[-1]}"
    return f"Find me {query} with {', '.join(attrs)}"


def _options(rng: random.Random, asin: str, groups: dict[str, Any]) -> dict[str, list[dict]] | None:
    r = rng.random()
    if r < 0.12:
        return None
    options: dict[str, list[dict]] = {}
    for name, values in groups.items():
        if values == "COLORS":
            chosen = rng.sample(COLORS, rng.randint(2, 4))
        else:
            k = rng.randint(max(1, len(values) - 2), len(values))
            chosen = [v for v in values if v in rng.sample(values, k)]
        options[name] = [{"value": v, "image": (f"https://img.example/webshop-lite/{asin}_{name.replace(' ', '_')}{i}.jpg"
                                                if name == "color" else None)} for i, v in enumerate(chosen)]
    return {} if r < 0.20 else options


def catalogue_data(n_products: int = 390, seed: int = SEED) -> tuple[list[dict], dict[str, dict], dict[str, list[str]]]:
    """(products, items_ins, title_nouns) of a generated catalogue of ``n_products`` products."""
    if n_products < len(TYPES):
        raise ValueError(f"catalogue size must be at least {len(TYPES)} (one product per type), got {n_products}")
    rng = random.Random(seed)
    products, attributes, nouns = [], {}, {}
    asins: set[str] = set()
    per_type, extra = divmod(n_products, len(TYPES))
    for index, (cat, query, pc, phrase, tnouns, adjs, extras, pool, groups, (lo, hi)) in enumerate(TYPES):
        for _ in range(per_type + (1 if index < extra else 0)):
            while True:
                asin = "B0" + "".join(rng.choice(ALNUM) for _ in range(8))
                if asin not in asins:
                    break
            asins.add(asin)
            brand, adj = rng.choice(BRANDS), rng.choice(adjs)
            suffix, suffix_nouns = rng.choice(extras)
            name = f"{brand} {adj} {phrase} {suffix}"
            attrs = rng.sample(pool, rng.randint(3, min(5, len(pool))))
            cents = rng.choice([0.99, 0.95, 0.49, 0.0, 0.79])
            price = f"${rng.randint(lo, hi) + cents:.2f}"
            bullets = [f"{a.capitalize()}: this {phrase.lower()} is made for {a}." for a in attrs[:3]]
            bullets.append(f"Brand: {brand}. Ships in a recyclable box.")
            description = (f"The {brand} {adj.lower()} {phrase.lower()} {suffix.lower()} is designed for everyday use. "
                           f"Key features: {', '.join(attrs)}. Satisfaction guaranteed.")
            products.append({
                "asin": asin, "name": name, "full_description": description, "small_description": bullets,
                "pricing": price, "list_price": price, "brand": brand,
                "customization_options": _options(rng, asin, groups),
                "images": [f"https://img.example/webshop-lite/{asin}.jpg"], "category": cat, "query": query,
                "product_category": pc, "average_rating": None,
            })
            entry: dict[str, Any] = {"attributes": attrs}
            if rng.random() < 0.6:
                wanted = rng.sample(attrs, rng.randint(1, min(3, len(attrs))))
                entry["instruction"] = _instruction(rng, query, wanted)
                entry["instruction_attributes"] = wanted
            attributes[asin] = entry
            nouns[name] = [brand.lower()] + tnouns + suffix_nouns
    rng.shuffle(products)
    return products, attributes, nouns


def generate_catalogue(out_dir: str | Path, n_products: int = 390, seed: int = SEED) -> Path:
    """Write ``items_shuffle.json``, ``items_ins.json`` and ``title_nouns.json`` into ``out_dir``; return it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    products, attributes, nouns = catalogue_data(n_products, seed)
    for name, data in (("items_shuffle.json", products), ("items_ins.json", attributes), ("title_nouns.json", nouns)):
        (out / name).write_text(json.dumps(data, ensure_ascii=False, indent=0), encoding="utf-8")
    return out
