"""Policy vocabulary for the matching benchmark: what UK written questions and answers talk
about, grouped by topic, with the departments, places, acronyms and boilerplate they use."""

from __future__ import annotations


def _items(text: str) -> list[str]:
    """The items of a "; "-separated block of text, in order."""
    return [item.strip() for item in text.replace("\n", " ").split(";") if item.strip()]


DEPARTMENTS = _items(
    """
    Department for Education; Department of Health and Social Care; Ministry of Defence;
    Department for Transport; Home Office; Ministry of Justice; HM Treasury; Department for Work
    and Pensions; Department for Environment, Food and Rural Affairs; Department for Energy
    Security and Net Zero; Ministry of Housing, Communities and Local Government; Department for
    Culture, Media and Sport; Department for Science, Innovation and Technology; Foreign,
    Commonwealth and Development Office; Department for Business and Trade; Cabinet Office;
    Northern Ireland Office; Scotland Office; Wales Office
    """
)


TOPICS: dict[str, list[str]] = {
    "education": _items(
        """
        special educational needs; SEND workforce; education health and care plan; alternative
        provision; teacher recruitment; teacher retention; academy trusts; free schools; school
        funding; high needs funding; free school meals; pupil premium; early years; childcare;
        nursery places; apprenticeships; further education; skills bootcamps; tuition fees;
        student loans; university admissions; Ofsted inspections; school attendance; exclusions;
        home education; speech and language therapy; educational psychologists; autism;
        dyslexia; mental health support teams; RAAC; school buildings; teaching assistants;
        curriculum; phonics; maths; oracy; T levels; safeguarding; school transport
        """
    ),
    "health": _items(
        """
        waiting lists; elective recovery; accident and emergency; ambulance response; general
        practice; GP appointments; dentistry; community pharmacy; mental health services; CAMHS;
        eating disorders; cancer diagnosis; radiotherapy; diagnostic centres; social care
        workforce; care homes; junior doctors; nursing workforce; midwifery; maternity services;
        hospices; palliative care; long covid; vaccination; antimicrobial resistance; obesity;
        smoking cessation; vaping; health visitors; integrated care boards; NHS England;
        hospital discharge; delayed discharge; physiotherapy; ADHD assessments; autism
        assessments; sickle cell; dementia; stroke; prescription charges
        """
    ),
    "defence": _items(
        """
        armed forces; veterans; Army recruitment; Royal Navy; Royal Air Force; frigates;
        submarines; Trident; defence procurement; ammunition stockpiles; Ukraine; NATO; service
        family accommodation; reserve forces; cyber security; AUKUS; drones; Ajax; defence
        spending; military housing; Typhoon; F-35; Challenger 3; shipbuilding; defence exports
        """
    ),
    "transport": _items(
        """
        rail fares; train cancellations; HS2; Northern Powerhouse Rail; bus services; bus fares;
        concessionary travel; potholes; road maintenance; electric vehicles; charging points;
        active travel; cycling; speed cameras; driving tests; DVLA; DVSA; aviation; airport
        expansion; Heathrow; ferries; shipping; level crossings; smart motorways; Network Rail
        """
    ),
    "home": _items(
        """
        asylum seekers; asylum accommodation; small boats; immigration detention; visa
        applications; skilled worker visas; police officers; knife crime; antisocial behaviour;
        violence against women and girls; domestic abuse; fraud; counter terrorism; passport
        applications; modern slavery; shoplifting; police funding; firearms licensing; drug
        misuse; county lines
        """
    ),
    "justice": _items(
        """
        prison places; prison overcrowding; probation service; court backlogs; Crown Court;
        legal aid; sentencing; youth justice; victims; magistrates; family courts; employment
        tribunals; parole board; reoffending; electronic monitoring; prison officers; remand;
        criminal barristers
        """
    ),
    "environment": _items(
        """
        sewage discharges; storm overflows; water companies; bathing water; river pollution;
        Environment Agency; flood defences; farming; ELMS; sustainable farming incentive;
        pesticides; bovine TB; badger cull; biodiversity net gain; peatland; tree planting; air
        quality; litter; fly-tipping; deposit return scheme; recycling; food security;
        fisheries; animal welfare; dog attacks; XL bully
        """
    ),
    "energy": _items(
        """
        energy bills; fuel poverty; heat pumps; insulation; nuclear power; Sizewell C; small
        modular reactors; offshore wind; onshore wind; solar farms; grid connections; carbon
        capture; hydrogen; North Sea oil and gas; energy price cap; warm home discount;
        prepayment meters; net zero; Great British Energy; district heating
        """
    ),
    "housing": _items(
        """
        affordable housing; social housing; housing waiting lists; homelessness; rough sleeping;
        temporary accommodation; leasehold reform; ground rent; building safety; cladding
        remediation; Grenfell; planning permission; green belt; local plans; housing targets;
        private rented sector; section 21; damp and mould; council tax; local government
        finance; business rates; levelling up; high streets; Awaab's law
        """
    ),
    "work": _items(
        """
        universal credit; personal independence payment; state pension; pension credit; winter
        fuel payment; carer's allowance; child benefit; two-child limit; benefit sanctions; work
        capability assessment; Motability; jobcentres; child maintenance; WASPI; minimum wage;
        zero-hours contracts; statutory sick pay; access to work; disability employment gap;
        food banks
        """
    ),
    "economy": _items(
        """
        inflation; interest rates; cost of living; fuel duty; income tax; corporation tax; VAT;
        HMRC; tax avoidance; national insurance; British Business Bank; small businesses; late
        payments; trade agreements; tariffs; exports; steel industry; semiconductors; artificial
        intelligence; broadband; gigabit; 5G; Post Office; Horizon; sub-postmasters; consumer
        protection; gambling; loot boxes; football regulator; BBC licence fee; Channel 4;
        museums; libraries; tourism
        """
    ),
    "foreign": _items(
        """
        overseas aid; official development assistance; Gaza; Israel; Sudan; Yemen; Afghanistan;
        Afghan resettlement; Hong Kong; China; Taiwan; Iran; Russia; sanctions; Chagos Islands;
        British Council; humanitarian aid; refugees; human rights; arms exports
        """
    ),
}


PLACES = _items(
    """
    Bournemouth; Hyde; Tameside; Manchester; Liverpool; Leeds; Sheffield; Bradford; Newcastle;
    Sunderland; Middlesbrough; Hull; York; Lincoln; Nottingham; Derby; Leicester; Birmingham;
    Coventry; Wolverhampton; Stoke-on-Trent; Shrewsbury; Hereford; Worcester; Gloucester;
    Bristol; Bath; Exeter; Plymouth; Truro; Cornwall; Devon; Somerset; Dorset; Southampton;
    Portsmouth; Brighton; Hastings; Kent; Canterbury; Dover; Medway; Essex; Colchester; Norwich;
    Ipswich; Cambridge; Peterborough; Oxford; Reading; Swindon; Milton Keynes; Luton; Bedford;
    Northampton; Cumbria; Carlisle; Blackpool; Preston; Lancaster; Barrow; Durham; Darlington;
    Hartlepool; Grimsby; Scunthorpe; Doncaster; Rotherham; Barnsley; Wakefield; Halifax;
    Huddersfield; Bolton; Wigan; Stockport; Oldham; Rochdale; Salford; Cardiff; Swansea;
    Newport; Wrexham; Edinburgh; Glasgow; Aberdeen; Dundee; Inverness; Belfast; Derry; Isle of
    Wight; Orkney; Shetland; Ynys Môn; Ceredigion; Gwynedd; Powys; Ashby-de-la-Zouch
    """
)


ORGANISATIONS = _items(
    """
    local authorities; the Office for National Statistics; the devolved governments;
    stakeholders; the sector; delivery partners; the Local Government Association
    """
)


GENERIC = _items(
    """
    support; funding; delivery; framework; guidance; consultation; programme; review; strategy;
    investment; pilot; scheme; commitment; stakeholders; evidence; outcomes; progress;
    pressures; capacity; standards; assessment; monitoring; evaluation; partnership;
    communities; families; children; people; services; providers; sector; workforce; training;
    recruitment; retention; regulations; legislation; reform; plans; targets; data; statistics;
    figures; estimates; allocation; budget; spending; costs; value; efficiency; improvement;
    access; quality; safety; resilience; infrastructure; regional; national; local; rural;
    urban; coastal; priority; engagement; officials; ministers; representatives; meetings;
    correspondence; responses; published; announced; confirmed; established; introduced;
    extended; expanded; increased; reduced; maintained; considered; assessed; monitored;
    recognised; committed; continue; ensure
    """
)


ADJECTIVES = _items(
    """
    significant; additional; further; new; existing; recent; current; future; long-term;
    short-term; sustainable; effective; appropriate; robust; comprehensive; targeted;
    independent; specialist; joint; wider; statutory; voluntary
    """
)


SENTENCES = [
    "The Government is committed to {a} and recognises the importance of {b}.",
    "As set out in the {adj} {g} published on {day} {month} {year}, the Department will "
    "work with {org} to take a joint approach to {a}.",
    "Officials are working closely with {org} to seek their views on {b} in {place}.",
    "Since {year}, the Government has invested £{n} million in {a}, including {b}.",
    "The Department does not hold data on {a} in the format requested.",
    "Information on {b} is published by {org} and is available on GOV.UK.",
    "We have introduced {adj} {g} to improve {a} and to support {c}.",
    "In {place}, {n} {g} have been delivered through the {adj} {b} programme.",
    "The {acr} will continue to monitor {a} and will keep this under review.",
    "This includes {adj} {g} for {c}, with a particular focus on {a}.",
    "Decisions on {b} are a matter for {org}, who are best placed to assess local needs.",
    "The Minister met representatives from {org} on {day} {month} {year} to discuss {a}.",
    "Between {year} and {year2}, {n} per cent of {g} related to {b}.",
    "We will set out further detail on {a} and {c} in due course.",
    "The department’s {adj} {g} will help {org} respond to pressures on {b}.",
    "Through the {acr} the Government is providing {adj} support for {a}.",
    "Figures for {a} in {place} are given in the table below, broken down by year.",
    "It is vital that {c} are able to access {b} when they need it.",
    "The {adj} review of {a} will report later this year and we will respond in full.",
    "Our {g} sets out how we will tackle {b} and improve outcomes for {c}.",
]


# What a subscriber adds to a topic to narrow it: "dentistry waiting times", "SEND funding".
QUALIFIERS = _items(
    """
    funding; waiting times; workforce; data; guidance; pilot; targets; strategy; backlog;
    reform; review; inspections; standards; eligibility; costs; consultation; recruitment;
    shortages; capacity; training; regulation; safety; outcomes; contracts; grants; allocations;
    performance; complaints; pay; vacancies
    """
)


# Named places of each kind, "{place} Hospital" and so on: answers name them, rules watch them.
INSTITUTIONS = _items(
    """
    {place} Hospital; {place} College; HMP {place}; {place} station; {place} City Council;
    University of {place}; {place} Academy; {place} Jobcentre; {place} Crown Court; {place}
    Airport
    """
)


COMPANIES = _items(
    """
    Thames Water; Southern Water; United Utilities; Yorkshire Water; Severn Trent; Avanti West
    Coast; TransPennine Express; Northern Trains; Southeastern; GWR; Capita; Serco; Mitie; G4S;
    BAE Systems; Rolls-Royce; Babcock; Leonardo; Post Office Limited; Fujitsu; British Steel;
    Tata Steel; Ørsted; EDF; National Grid; Openreach; Royal Mail; Virgin Media O2; Google; Meta
    """
)


# Wildcards subscribers write: the stem of a subject word.
STEMS = _items(
    """
    apprentice*; vaccin*; therap*; psycholog*; dyslex*; autis*; pollut*; sewag*; flood*;
    homeless*; asylum*; prison*; refugee*; pension*; nurs*; midwi*; dentist*; pharmac*;
    ambulanc*; hospice*; veteran*; frigate*; submarine*; drone*; cycl*; pothole*; tenan*;
    landlord*; leasehold*; cladding*; solar*; turbine*; nuclear*; hydrogen*; vap*; gambl*;
    steel*; tariff*; semiconductor*; sanction*; humanitar*; badger*; pesticid*; fisher*; EHCP*;
    GP*; academ*; tribunal*; magistrat*; probation*
    """
)


# Acronyms and bodies an answer on each topic tends to name.
TOPIC_ACRONYMS = {
    "education": ["SEND", "EHCP", "SEN", "GCSE", "SATs", "RAAC"],
    "health": ["NHS", "CAMHS", "GP", "ADHD", "NICE", "CQC", "ICB", "UKHSA"],
    "defence": ["MOD", "NATO", "AUKUS", "RAF"],
    "transport": ["DVLA", "DVSA", "HGV", "EV", "MOT", "ULEZ", "HS2"],
    "home": ["NCA", "VAWG", "ASB"],
    "justice": ["HMPPS", "CPS", "HMCTS"],
    "environment": ["ELMS", "SFI", "DEFRA", "EA"],
    "energy": ["SMR", "CCS", "ECO4", "GBE"],
    "housing": ["LGA", "PRS", "HRA"],
    "work": ["DWP", "PIP", "ESA", "UC", "WASPI"],
    "economy": ["HMRC", "VAT", "BBC", "SME", "AI"],
    "foreign": ["FCDO", "ODA", "UN", "UNRWA"],
}


TOPIC_BODIES = {
    "education": ["Ofsted", "the Education and Skills Funding Agency", "academy trusts"],
    "health": ["NHS England", "the Care Quality Commission", "integrated care boards"],
    "defence": ["Defence Equipment and Support", "the Armed Forces Covenant Fund Trust"],
    "transport": ["Network Rail", "National Highways", "the Office of Rail and Road"],
    "home": ["police forces", "the National Crime Agency", "Border Force"],
    "justice": ["HM Prison and Probation Service", "the Parole Board", "the judiciary"],
    "environment": ["the Environment Agency", "Natural England", "Ofwat", "water companies"],
    "energy": ["Ofgem", "National Grid", "Great British Energy"],
    "housing": ["Homes England", "the Building Safety Regulator", "housing associations"],
    "work": ["jobcentres", "the Child Maintenance Service", "the Low Pay Commission"],
    "economy": ["HMRC", "the Bank of England", "the British Business Bank", "the CMA"],
    "foreign": ["the United Nations", "international partners", "the British Council"],
}


PEOPLE = ["people", "families", "local residents", "communities", "those affected", "users"]
