"""Word pools for the demo data: names, places, note fragments, booking texts.

Every string here must be encodable in Windows-1252 (the case-management export encoding), so
Turkish, Slavic and Arabic names are written without the letters cp1252 lacks (ı, ş, ğ, č, ć).
All names are invented combinations; e-mail domains are the reserved ``example.*`` domains.
"""

from __future__ import annotations

FIRST_NAMES_FEMALE_DE: tuple[str, ...] = (
    "Anna", "Jördis", "Sabine", "Petra", "Claudia", "Susanne", "Andrea", "Birgit", "Martina",
    "Katrin", "Sandra", "Nicole", "Stefanie", "Julia", "Lena", "Lea", "Sophie", "Marie", "Hanna",
    "Jana", "Käthe", "Ursula", "Renate", "Gisela", "Monika", "Bärbel", "Annegret", "Doris",
    "Franziska", "Jessica", "Melanie", "Luisa", "Emilia", "Mia", "Clara", "Paula", "Zoë",
    "Chantal", "Mandy", "Cornelia", "Heike", "Gudrun", "Jasmin", "Vanessa", "Ines", "Ilka",
)
FIRST_NAMES_MALE_DE: tuple[str, ...] = (
    "Jürgen", "Jörg", "Björn", "Sören", "Thomas", "Michael", "Andreas", "Stefan", "Frank",
    "Uwe", "Ralf", "Dirk", "Torsten", "Matthias", "Daniel", "Kevin", "Dennis", "Marcel",
    "Sebastian", "Tobias", "Lukas", "Jonas", "Leon", "Finn", "Paul", "Felix", "Maximilian",
    "Günther", "Klaus", "Hans-Peter", "Karl-Heinz", "Wolfgang", "Horst", "Dieter", "Ronny",
    "René", "André", "Jens", "Sven", "Mirko", "Niklas", "Till", "Emil", "Anton", "Ole", "Malte",
)
LAST_NAMES_DE: tuple[str, ...] = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
    "Werner", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann",
    "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller",
    "Weiß", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich", "Keller", "Günther", "Frank",
    "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Franke", "Albrecht", "Schuster",
    "Simon", "Ludwig", "Böhm", "Winter", "Kraus", "Martin", "Schumacher", "Krämer", "Vogt",
    "Stein", "Jäger", "Otto", "Sommer", "Groß", "Seidel", "Heinrich", "Brandt", "Haas",
    "Schreiber", "Graf", "Schulte", "Dietrich", "Ziegler", "Kuhn", "Kühn", "Pohl", "Engel",
    "Horn", "Busch", "Bergmann", "Thomas", "Voigt", "Sauer", "Arnold", "Wolff", "Pfeiffer",
    "Höfer", "Rößler", "Gärtner", "Blümel", "Schütz", "Düsterhöft",
)
FIRST_NAMES_FEMALE_INT: tuple[str, ...] = (
    "Fatma", "Ayse", "Elif", "Zeynep", "Özlem", "Aylin", "Fatima", "Amina", "Mariam",
    "Leyla", "Nour", "Yasmin", "Olena", "Oksana", "Natalia", "Anastasia", "Irina", "Svetlana",
    "Aleksandra", "Agnieszka", "Malgorzata", "Ana", "Ioana", "Elena", "Dragana",
    "Hevin", "Rojda", "Tigist", "Hiwot", "Sara", "Noémie", "Dilara", "Büsra",
)
FIRST_NAMES_MALE_INT: tuple[str, ...] = (
    "Mehmet", "Mustafa", "Ahmet", "Ömer", "Emre", "Can", "Yusuf", "Ali", "Ahmad", "Mohammed",
    "Omar", "Hamid", "Khaled", "Tarek", "Oleksandr", "Dmytro", "Andrij", "Sergej", "Pawel",
    "Piotr", "Tomasz", "Ion", "Andrei", "Nikola", "Milan", "Goran", "Dawit", "Yonas", "Abdi",
    "Hassan", "Karim", "Rüzgar", "Jérôme", "François",
)
LAST_NAMES_INT: tuple[str, ...] = (
    "Özdemir", "Yilmaz", "Kaya", "Demir", "Çelik", "Sahin", "Yildiz", "Öztürk", "Aydin",
    "Arslan", "Dogan", "Kiliç", "Aslan", "Çetin", "Kara", "Koç", "Kurt", "Özkan", "Al-Hassan",
    "Haddad", "Ahmadi", "Hosseini", "Mohammadi", "Rahimi", "Nasser", "Saleh", "Khalil",
    "Ibrahim", "Hussein", "Abdullah", "Kowalski", "Nowak", "Wisniewski",
    "Wójcik", "Kowalczyk", "Popescu", "Ionescu", "Popa", "Kovacevic", "Petrovic", "Jovanovic",
    "Horváth", "Nagy", "Ivanova", "Petrenko", "Shevchenko", "Bondarenko", "Tesfaye", "Haile",
    "Mekonnen", "Abdi", "Nguyen", "Tran", "Lefèvre", "Gonçalves", "Müller-Özdemir",
)

STREETS: tuple[str, ...] = (
    "Hauptstraße", "Bahnhofstraße", "Schulstraße", "Gartenstraße", "Dorfstraße", "Lindenstraße",
    "Bergstraße", "Kirchstraße", "Waldstraße", "Ringstraße", "Mühlenweg", "Schillerstraße",
    "Goethestraße", "Am Bürgerpark", "Karl-Liebknecht-Straße", "Könneritzstraße", "Jahnallee",
    "Eisenbahnstraße", "Georg-Schwarz-Straße", "Zschochersche Straße", "Lützner Straße",
    "Prager Straße", "Dresdner Straße", "Kurt-Eisner-Straße", "Südstraße", "Brühl",
    "Gießerstraße", "Dölitzer Straße", "Schönefelder Allee", "Wurzner Straße", "Torgauer Straße",
    "Mariannenstraße", "Ludwigstraße", "Hildegardstraße", "Kötzschauer Straße", "Am Rähmen",
    "Fröbelstraße", "Äußere Weberstraße", "Große Fleischergasse", "Rosa-Luxemburg-Straße",
    "Schloßweg", "Grünauer Allee", "Stötteritzer Straße", "Holbeinstraße", "Kärntner Weg",
)

# (postcode, place, telephone area code, weight). Most clients live in the city, whose
# postcodes share the 3-digit regions 041-043, so the region field has realistic repeats.
PLACES: tuple[tuple[str, str, str, float], ...] = (
    ("04103", "Musterstadt", "0341", 6.0), ("04105", "Musterstadt", "0341", 5.0),
    ("04107", "Musterstadt", "0341", 5.0), ("04109", "Musterstadt", "0341", 4.0),
    ("04155", "Musterstadt", "0341", 5.0), ("04157", "Musterstadt", "0341", 4.0),
    ("04177", "Musterstadt", "0341", 7.0), ("04179", "Musterstadt", "0341", 5.0),
    ("04209", "Musterstadt", "0341", 6.0), ("04229", "Musterstadt", "0341", 7.0),
    ("04249", "Musterstadt", "0341", 5.0), ("04275", "Musterstadt", "0341", 6.0),
    ("04277", "Musterstadt", "0341", 6.0), ("04299", "Musterstadt", "0341", 4.0),
    ("04315", "Musterstadt", "0341", 8.0), ("04317", "Musterstadt", "0341", 6.0),
    ("04318", "Musterstadt", "0341", 5.0), ("04329", "Musterstadt", "0341", 4.0),
    ("04347", "Musterstadt", "0341", 4.0), ("04357", "Musterstadt", "0341", 3.0),
    ("04420", "Altenbrück", "034205", 2.0), ("04435", "Großmühlen", "034204", 2.0),
    ("04442", "Kleinsülz", "034203", 1.5), ("04509", "Neuhöfen", "034202", 1.5),
    ("04552", "Bad Beispielsee", "03433", 1.0), ("04808", "Wurzenthal", "03425", 1.0),
    ("06217", "Saalhügel", "03461", 0.5), ("01067", "Elbstadt", "0351", 0.3),
    ("99084", "Gerastädt", "0361", 0.2),
)

MOBILE_PREFIXES: tuple[str, ...] = ("0151", "0152", "0157", "0160", "0170", "0171", "0176", "0178")
EMAIL_DOMAINS: tuple[str, ...] = ("example.org", "example.com", "example.net")

# Transliteration for e-mail local parts (the pools above only use these non-ASCII letters).
EMAIL_TRANSLIT: dict[str, str] = {
    "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "ë": "e", "ç": "c", "á": "a",
    "ó": "o", "ô": "o", "ã": "a", " ": "", "'": "",
}

# Note fragments. A note is "<subject> <verb> <topic><separator><action>" or a fixed sentence
# "<opener><separator><action>", or a quoted statement. The separators include ';' and a line
# break so that exports carry quoted fields, as real ones do.
NOTE_VERBS: tuple[str, ...] = (
    "berichtet über", "spricht über", "klagt über", "informiert über", "äußert sich über",
    "macht sich Sorgen über", "erzählt ausführlich über",
)
NOTE_SEPARATORS: tuple[str, ...] = (". ", ". ", ". ", "; ", "; ", ".\n", " – ")
NOTE_SUBJECTS_ANON: tuple[str, ...] = ("Klientin", "Klient", "Kl.", "Die Klientin", "Der Klient")
NOTE_SUBJECTS_ANON_YOUTH: tuple[str, ...] = (
    "KM", "KV", "Die Mutter", "Der Jugendliche", "Die Jugendliche", "Die Familie",
)

NOTE_TOPICS: dict[str, tuple[str, ...]] = {
    "SB": (
        "Mietschulden bei der Wohnungsbau GmbH", "die Pfändung des Girokontos",
        "offene Forderungen beim Stromversorger", "den Stand des Insolvenzantrags",
        "Mahnungen eines Inkassobüros", "Rückstände bei der Krankenkasse",
        "die Schufa-Auskunft", "einen Vollstreckungsbescheid", "Ratenzahlungen an drei Gläubiger",
        "die Kündigung des Dispokredits", "Schulden aus einem Handyvertrag",
        "den Bescheid über Bürgergeld", "die drohende Stromsperre",
    ),
    "SUB": (
        "Rückfälle am Wochenende", "den Alkoholkonsum der letzten Wochen",
        "Konsum von Cannabis", "Schlafprobleme seit der Entgiftung", "den Kontakt zur Familie",
        "Stress am Arbeitsplatz", "die Wartezeit auf die Langzeittherapie",
        "Suchtdruck nach Streit mit dem Partner", "die MPU-Vorbereitung",
        "die Teilnahme an der Selbsthilfegruppe", "Glücksspiel im Internet",
    ),
    "MBE": (
        "den Aufenthaltsstatus", "die Anerkennung des Berufsabschlusses",
        "die Suche nach einem Sprachkurs", "Probleme mit der Ausländerbehörde",
        "den Familiennachzug", "die Wohnungssuche", "Schwierigkeiten mit dem Jobcenter",
        "die Schulanmeldung der Kinder", "Diskriminierung bei der Arbeitssuche",
        "den Einbürgerungstest", "die Krankenversicherung",
    ),
    "AJH": (
        "Probleme in der Schule", "Streit zwischen den Geschwistern",
        "die Tagesstruktur der Familie", "Schulverweigerung", "den Umgang mit dem Kindsvater",
        "Konflikte mit den Nachbarn", "die Hausaufgabensituation", "Medienkonsum am Abend",
        "die Überforderung im Alltag", "den Wechsel in die Oberschule",
        "Ärger mit der Klassenlehrerin", "die Freizeitgestaltung",
    ),
}
NOTE_ACTIONS: dict[str, tuple[str, ...]] = {
    "SB": (
        "Termin mit Jobcenter vereinbart.", "Haushaltsplan erstellt.",
        "Gläubigeranschreiben vorbereitet.", "Unterlagen (Kontoauszüge, Bescheide) mitgebracht.",
        "P-Konto-Bescheinigung ausgestellt.", "Antrag auf Wohngeld gemeinsam ausgefüllt.",
        "Nächster Termin in zwei Wochen.", "Vergleichsangebot an Gläubiger verschickt.",
        "Rückruf beim Vermieter vereinbart.",
    ),
    "SUB": (
        "Entgiftung in der Klinik angefragt.", "Selbsthilfegruppe empfohlen.",
        "Rückfallprophylaxe besprochen.", "Antrag auf Entwöhnung bei der DRV gestellt.",
        "Urinkontrolle negativ.", "Nächster Termin in einer Woche.",
        "Notfallplan aktualisiert.", "Gespräch mit Hausärztin vereinbart.",
    ),
    "MBE": (
        "Sprachkurs (B1) beim Träger angemeldet.",
        "Anerkennung ausländischer Abschlüsse beantragt.",
        "Termin bei der Ausländerbehörde begleitet.", "Bewerbungsunterlagen überarbeitet.",
        "Übersetzung der Zeugnisse veranlasst.", "Wohnungsangebote durchgesehen.",
        "Nächster Termin nach dem Integrationskurs.", "Formular für Kindergeld ausgefüllt.",
    ),
    "AJH": (
        "Hausbesuch: Wohnung ordentlich, Kinder wohlauf.", "Gespräch mit Lehrerin geführt.",
        "Hilfeplangespräch beim Jugendamt terminiert.", "Wochenplan gemeinsam erstellt.",
        "Regeln für Mediennutzung vereinbart.", "Termin beim Kinderarzt begleitet.",
        "Gruppenangebot am Donnerstag besprochen.", "Rückmeldung an den ASD gegeben.",
    ),
}
NOTE_OPENERS: tuple[str, ...] = (
    "Telefonat wegen Terminverschiebung", "Kurzer Anruf, Termin bestätigt",
    "Erstgespräch, Anliegen geklärt", "Termin nicht wahrgenommen, Nachricht hinterlassen",
    "Gespräch in ruhiger Atmosphäre", "Unterlagen gesichtet",
    "Gemeinsame Auswertung der letzten Wochen", "Krisengespräch",
)
NOTE_QUOTES: tuple[str, ...] = (
    "Ich schaffe das diesmal.", "Mir wächst alles über den Kopf.", "Es läuft besser als gedacht.",
    "Ich will nicht mehr zum Amt.", "Danke für die Hilfe!",
)

# Booking texts (DATEV Buchungstext, at most 60 characters, never ';' or '"').
MATERIAL_TEXTS: tuple[str, ...] = (
    "Bürobedarf Papier/Toner", "Büromaterial", "Druckerpatronen", "Porto und Bürobedarf",
    "Ordner und Hängeregister", "Fachliteratur", "Moderationsmaterial",
)
DONATION_TEXTS: tuple[str, ...] = (
    "Spende Privatperson", "Spende Förderverein", "Spende Unternehmen", "Spende Kollekte",
    "Spende Weihnachtsaktion", "Zuweisung Bußgeld Amtsgericht",
)
