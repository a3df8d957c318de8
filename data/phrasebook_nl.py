"""Dutch phrasebook of the demo corpus: handwritten fragments of customers' mail to Polderzeker.

All sentences were written for this project. Intents deliberately share vocabulary across
teams (a complaint that threatens to cancel, a quote that asks about the premium, a house
move that is really a policy change) so that no keyword decides the team.
"""

from __future__ import annotations

from data.phrasebook import Intent, Phrasebook, VagueMail
from data.slots import MONTHS_NL

_SCHADE = (
    Intent(
        "aanrijding",
        (
            "Schademelding aanrijding",
            "Aanrijding {datum}",
            "schade auto {kenteken}",
            "Melding schade",
            "Ongeluk met mijn auto",
            "Aanrijding op de {straat}",
        ),
        (
            "Op {datum} ben ik {op de {straat} in {plaats}|bij het stoplicht in {plaats}|op de "
            "parkeerplaats van de supermarkt} {achterop aangereden|aangereden} door een {auto2}. "
            "Mijn auto, een {auto} met kenteken {kenteken}, heeft flinke schade aan de "
            "{achterkant|zijkant|voorkant|bumper en de achterklep}.",
            "Ik wil graag schade melden aan mijn {auto} ({kenteken}). {Bij het achteruit "
            "rijden|Bij het inparkeren|Op de snelweg} ben ik tegen een {paaltje|andere auto|"
            "vangrail} aangereden.",
            "Vanmorgen is er iemand tegen mijn geparkeerde auto aangereden en doorgereden. "
            "Er zit een grote deuk in het portier van mijn {auto}.",
            "Mijn {vrouw|man|dochter|zoon} heeft {gisteren|vorige week|op {datum}} een aanrijding "
            "gehad met onze {auto}. Gelukkig is er niemand gewond, maar de auto is niet meer "
            "rijklaar.",
        ),
        (
            "Het ingevulde Europees schadeformulier stuur ik mee als bijlage.",
            "De tegenpartij heeft de schuld erkend en het schadeformulier ook ondertekend.",
            "De garage schat de reparatiekosten op ongeveer {bedrag}.",
            "Ik heb foto's gemaakt van de schade, die zitten in de bijlage.",
            "Heb ik recht op vervangend vervoer zolang de auto in de garage staat?",
            "Mijn polisnummer is {polis}.",
            "Kan ik de auto bij een garage naar keuze laten repareren?",
            "De politie is ter plaatse geweest.",
        ),
        weight=2.0,
    ),
    Intent(
        "water",
        (
            "Waterschade",
            "Lekkage badkamer",
            "Schade door lekkage",
            "waterschade plafond",
            "Melding waterschade {adres}",
        ),
        (
            "Door een lekkage {in de badkamer|van de wasmachine|bij de bovenburen|aan de cv-ketel} "
            "is er waterschade ontstaan aan {het plafond|de vloer|de keukenkastjes|het laminaat} "
            "in onze {woonkamer|keuken|slaapkamer}.",
            "Afgelopen {nacht|weekend} is er een waterleiding gesprongen. Het {parket|tapijt} "
            "en een deel van de meubels zijn doorweekt.",
            "Bij ons thuis is het plafond deels naar beneden gekomen door water dat van boven "
            "kwam. Ik wil dit melden op mijn {inboedelverzekering|woonhuisverzekering}.",
        ),
        (
            "Er is inmiddels een loodgieter geweest, de factuur van {bedrag_klein} heb ik "
            "bijgevoegd.",
            "Moet ik wachten op een expert voordat ik de vloer laat vervangen?",
            "Ons adres is {adres}, {postcode} {plaats}.",
            "Ik heb alles met foto's vastgelegd.",
            "Valt de schade aan de bank ook onder de inboedelverzekering?",
        ),
        weight=1.5,
    ),
    Intent(
        "inbraak",
        ("Inbraak", "Melding inbraak woning", "Er is ingebroken", "diefstal uit woning"),
        (
            "Afgelopen {nacht|zaterdag|{datum}} is er bij ons ingebroken. Er zijn onder andere "
            "{een laptop, sieraden en contant geld|twee fietsen uit de schuur|een televisie en "
            "een spelcomputer} gestolen.",
            "Toen wij thuiskwamen van vakantie bleek er ingebroken te zijn via de achterdeur. "
            "De deur is geforceerd en er missen spullen.",
        ),
        (
            "Aangifte is gedaan bij de politie, het proces-verbaal stuur ik mee.",
            "Ik heb een lijst gemaakt van de gestolen spullen met de aankoopbedragen.",
            "Ook het slot van de voordeur moet vervangen worden.",
            "De totale schade schatten wij op ongeveer {bedrag}.",
        ),
    ),
    Intent(
        "glas",
        ("Ruitschade", "Sterretje in voorruit", "Glasschade", "kapotte ruit"),
        (
            "Er is een steentje tegen mijn voorruit gekomen en nu zit er een {ster|barst} in de "
            "ruit van mijn {auto} ({kenteken}).",
            "Bij ons is {de ruit van de achterdeur|het raam van de keuken|een dubbel glas "
            "ruit} gesneuveld. Wie kan dit komen repareren?",
        ),
        (
            "Kan ik hiervoor direct naar een ruitschadebedrijf?",
            "Geldt hier een eigen risico voor?",
            "Mijn polisnummer is {polis}.",
        ),
    ),
    Intent(
        "storm",
        ("Stormschade", "Schade door storm", "Schade dak", "schade na noodweer"),
        (
            "Door de storm van {datum} zijn er dakpannen van ons dak gewaaid en is de "
            "{schutting|dakgoot|zonwering} beschadigd.",
            "Tijdens het noodweer {afgelopen week|van {datum}} is er een boom op onze "
            "{schuur|auto|serre} gevallen.",
        ),
        (
            "Een dakdekker heeft het dak tijdelijk afgedicht.",
            "Ik heb een offerte voor het herstel van {bedrag} opgevraagd.",
            "Het gaat om ons huis aan de {adres} in {plaats}.",
        ),
    ),
    Intent(
        "fiets",
        ("Fiets gestolen", "Diefstal fiets", "Schade e-bike", "Mijn fiets is weg"),
        (
            "Mijn {e-bike|fiets}, een {fiets}, is {gestolen bij het station|gestolen voor de "
            "deur|uit de fietsenstalling gehaald} terwijl hij op slot stond.",
            "Ik ben met mijn {fiets} e-bike gevallen en de accu en het display zijn kapot.",
        ),
        (
            "Ik heb beide sleutels nog en de aankoopfactuur.",
            "De aangifte heb ik online gedaan.",
            "De fiets is {jaren} maanden oud.",
        ),
    ),
    Intent(
        "status",
        (
            "Status schademelding",
            "Stand van zaken {claim}",
            "Vraag over mijn schade",
            "schadenummer {claim}",
            "Hoe staat het met mijn claim?",
        ),
        (
            "Op {datum} heb ik een schade gemeld onder nummer {claim}. Kunt u mij laten weten "
            "hoe het ervoor staat?",
            "Ik wilde even informeren naar de stand van zaken van mijn schademelding {claim}. "
            "Ik heb nog geen bericht ontvangen over de beoordeling.",
            "Graag hoor ik wanneer de expert contact met mij opneemt over schadedossier {claim}.",
            "Is er al een beslissing over mijn claim {claim}? De garage wil graag weten of ze "
            "mogen beginnen.",
        ),
        (
            "Ik heb alle gevraagde stukken al opgestuurd.",
            "Mijn polisnummer is {polis}.",
            "U kunt mij bereiken op {tel}.",
            "Ik heb geen haast, maar wil wel weten waar ik aan toe ben.",
        ),
        weight=1.6,
    ),
    Intent(
        "uitkering",
        (
            "Uitbetaling schade",
            "Schadebedrag nog niet ontvangen",
            "Uitkering claim {claim}",
            "betaling schade",
        ),
        (
            "Mijn schade {claim} is goedgekeurd, maar het bedrag van {bedrag} is nog niet op "
            "mijn rekening bijgeschreven. Wanneer kan ik de betaling verwachten?",
            "In uw brief staat dat u {bedrag} uitkeert voor mijn schade. Wilt u dit bedrag "
            "overmaken op rekeningnummer {iban}?",
            "Ik heb van u een uitkering ontvangen voor de schade aan mijn {auto}, maar het "
            "bedrag is lager dan de factuur van de garage. Hoe is dat berekend?",
        ),
        (
            "Het eigen risico van {eigen_risico} had ik al verwacht.",
            "Dit is het rekeningnummer waarop ik ook de premie betaal.",
            "Kunt u mij een specificatie sturen?",
        ),
    ),
    Intent(
        "expert",
        ("Afspraak expert", "Bezoek schade-expert", "Expertise {claim}"),
        (
            "De schade-expert komt op {datum_toekomst} langs voor schade {claim}, maar dan ben "
            "ik niet thuis. Kan de afspraak verzet worden?",
            "Vandaag is de expert geweest voor de {waterschade|stormschade|inbraakschade}. Hij "
            "zou het rapport naar u sturen; wat is de volgende stap?",
        ),
        ("Ik ben {doordeweeks|op woensdag|in de ochtend} goed bereikbaar op {tel}.",),
        weight=0.8,
    ),
    Intent(
        "reis",
        ("Schade op vakantie", "Reisverzekering claim", "Diefstal tijdens vakantie"),
        (
            "Tijdens onze vakantie in {land} is {mijn koffer|mijn telefoon|de camera van mijn "
            "dochter|mijn handtas} gestolen.",
            "Op vakantie in {land} heb ik mijn been gebroken en ik heb daar de dokter en het "
            "ziekenhuis zelf betaald.",
        ),
        (
            "De bonnetjes en de politieverklaring heb ik bewaard.",
            "Het gaat in totaal om ongeveer {bedrag}.",
            "Wij waren van {datum2} tot en met {datum} weg.",
        ),
    ),
    Intent(
        "aansprakelijk",
        ("Schade bij een ander", "Aansprakelijkheid", "Per ongeluk schade veroorzaakt"),
        (
            "Mijn zoon heeft bij een vriendje per ongeluk {een dure telefoon|een televisie|een "
            "bril} laten vallen. De ouders vragen of onze aansprakelijkheidsverzekering dit "
            "vergoedt.",
            "Bij het verhuizen van een bank heb ik bij de buren {de deurpost|een schilderij|de "
            "vloer} beschadigd.",
        ),
        (
            "De benadeelde heet {naam2}.",
            "De reparatie kost ongeveer {bedrag_klein}.",
        ),
    ),
)

_POLIS = (
    Intent(
        "verhuizing",
        (
            "Verhuizing",
            "Verhuizing per {datum_toekomst}",
            "Nieuw adres en inboedelverzekering",
            "Wij gaan verhuizen",
            "adreswijziging",
        ),
        (
            "Per {datum_toekomst} verhuizen wij naar {adres_nieuw}, {postcode_nieuw} "
            "{plaats_nieuw}. Kunt u onze {inboedelverzekering|inboedel- en "
            "woonhuisverzekering} overzetten naar het nieuwe adres?",
            "Wij hebben een ander huis gekocht en verhuizen op {datum_toekomst}. Het nieuwe huis "
            "is groter; moet de verzekerde som van de inboedel omhoog?",
            "Graag geef ik een verhuizing door: vanaf {datum_toekomst} wonen wij op "
            "{adres_nieuw} in {plaats_nieuw}. Het oude huis wordt verkocht, dus de "
            "opstalverzekering daarvan kan per de overdracht vervallen en voor het nieuwe huis "
            "moet hij ingaan.",
        ),
        (
            "Het nieuwe huis heeft een rieten dak, maakt dat uit?",
            "Het nieuwe huis is een appartement zonder tuin.",
            "Mijn polisnummer is {polis}.",
            "Verandert de premie hierdoor?",
            "Ons nieuwe huis heeft ook een {schuur|zolder|serre}.",
        ),
        weight=1.8,
    ),
    Intent(
        "nieuwe_auto",
        (
            "Nieuwe auto",
            "Vervangend voertuig",
            "Wijziging kenteken",
            "Auto overzetten",
            "andere auto",
        ),
        (
            "Ik heb een {nieuwe|andere|tweedehands} auto gekocht, een {auto} met kenteken "
            "{kenteken}. Wilt u mijn autoverzekering {polis} per {datum_toekomst} overzetten naar "
            "deze auto?",
            "Mijn oude auto heb ik ingeruild voor een {auto} ({kenteken}). Kan de verzekering "
            "direct over naar de nieuwe auto, met dezelfde dekking?",
            "Per {datum_toekomst} rijd ik in een {auto} van de zaak niet meer, ik koop zelf een "
            "{auto2}. Graag mijn polis aanpassen naar het nieuwe kenteken {kenteken}.",
        ),
        (
            "De oude auto is verkocht, die hoeft dus niet meer verzekerd te zijn.",
            "Graag wil ik de schadevrije jaren behouden.",
            "Ik wil de nieuwe auto wel allrisk verzekeren.",
            "Kunt u mij een nieuwe groene kaart sturen?",
        ),
        weight=1.5,
    ),
    Intent(
        "dekking_op",
        ("Dekking uitbreiden", "Wijziging dekking", "Van WA naar allrisk", "Aanvullende dekking"),
        (
            "Ik wil de dekking van mijn autoverzekering {polis} graag uitbreiden van WA naar "
            "{WA beperkt casco|allrisk}.",
            "Kan ik op mijn bestaande reisverzekering ook {wintersport|annulering|de dekking "
            "voor werelddekking} bijsluiten?",
            "Graag wil ik rechtsbijstand toevoegen aan mijn bestaande pakket {polis}.",
        ),
        (
            "Wat gaat dat per maand extra kosten?",
            "Per wanneer kan de wijziging ingaan?",
            "De wijziging mag per {datum_toekomst} ingaan.",
        ),
    ),
    Intent(
        "dekking_af",
        ("Dekking aanpassen", "Van allrisk naar WA", "Minder dekking"),
        (
            "Mijn auto is inmiddels {jaren} jaar oud. Ik wil de allrisk dekking omzetten naar "
            "alleen WA, om premie te besparen.",
            "De casco-dekking op mijn {auto} mag eraf, de auto is niet zoveel meer waard. De "
            "WA-verzekering wil ik wel houden.",
            "Kan de annuleringsdekking van mijn reisverzekering eraf? De rest van de polis wil "
            "ik graag aanhouden.",
        ),
        (
            "Wat wordt dan mijn nieuwe maandpremie?",
            "Graag per {datum_toekomst}.",
            "Mijn polisnummer is {polis}.",
        ),
    ),
    Intent(
        "gezin",
        ("Gezinsdekking", "Partner meeverzekeren", "Wijziging gezinssamenstelling"),
        (
            "Mijn {vriendin|vriend|partner} komt per {datum_toekomst} bij mij wonen. Kan mijn "
            "aansprakelijkheidsverzekering worden omgezet van alleenstaand naar een gezinspolis?",
            "Wij hebben een {zoon|dochter} gekregen. Moet ik haar of hem aanmelden op de "
            "aansprakelijkheids- of reisverzekering?",
            "Mijn {zoon|dochter} {kind} woont niet meer thuis. Kan de gezinsdekking terug naar "
            "een dekking voor twee personen?",
        ),
        ("Ons polisnummer is {polis}.", "Wat betekent dit voor de premie?"),
    ),
    Intent(
        "verbouwing",
        ("Verbouwing", "Herbouwwaarde aanpassen", "Uitbouw woning"),
        (
            "Wij hebben {een uitbouw laten plaatsen|de zolder verbouwd|een nieuwe keuken laten "
            "plaatsen|zonnepanelen laten leggen}. Moet de herbouwwaarde of de verzekerde som "
            "worden aangepast?",
            "Graag wil ik de zonnepanelen op ons dak laten meeverzekeren op de "
            "woonhuisverzekering {polis}.",
        ),
        ("De kosten waren ongeveer {bedrag}.", "Het gaat om ons huis aan de {adres}."),
    ),
    Intent(
        "eigen_risico",
        ("Eigen risico aanpassen", "Wijziging eigen risico"),
        (
            "Ik wil het eigen risico op mijn {autoverzekering|inboedelverzekering} verhogen naar "
            "{eigen_risico}. Hoeveel lager wordt de premie dan?",
            "Kan het eigen risico van {eigen_risico} op polis {polis} omlaag? Ik betaal liever "
            "iets meer premie.",
        ),
        ("De wijziging mag direct ingaan.",),
    ),
    Intent(
        "meeverzekeren",
        ("Meeverzekeren", "Caravan meeverzekeren", "Extra bestuurder", "Regelmatige bestuurder"),
        (
            "Mijn {zoon|dochter} {kind} ({leeftijd}) heeft net het rijbewijs gehaald. Kan "
            "{hij|zij} als regelmatige bestuurder op mijn autoverzekering {polis}?",
            "Kan ik {onze caravan|de aanhanger|mijn nieuwe e-bike|de sieraden van mijn vrouw} "
            "meeverzekeren op mijn bestaande polis {polis}?",
            "Ik rijd tegenwoordig ongeveer {km} kilometer per jaar in plaats van 10.000. Moet ik "
            "dit aanpassen op mijn polis?",
        ),
        ("Wat kost dat extra aan premie?", "Het gaat om polisnummer {polis}."),
        weight=1.2,
    ),
)

_PREMIE = (
    Intent(
        "verhoging",
        (
            "Premieverhoging",
            "Vraag over premie",
            "Hogere premie?",
            "premie {jaar}",
            "Nieuwe premie",
        ),
        (
            "Waarom is mijn premie per 1 januari gestegen van {premie_oud} naar {premie_nieuw} "
            "per maand? Ik heb geen schade gehad.",
            "Ik ontving de nieuwe jaaropgave van mijn {product}. De premie is met {procent} "
            "omhoog gegaan; kunt u uitleggen waar dat door komt?",
            "Kunt u mij uitleggen hoe de premie van polis {polis} is opgebouwd? Het bedrag van "
            "{premie_nieuw} klopt volgens mij niet.",
        ),
        (
            "Is er een mogelijkheid om de premie omlaag te krijgen?",
            "Ik betaal al {jaren} jaar netjes mijn premie.",
            "Mijn relatienummer is {relatie}.",
        ),
        weight=1.5,
    ),
    Intent(
        "dubbel",
        ("Dubbele afschrijving", "Twee keer afgeschreven", "Incasso klopt niet", "afschrijving"),
        (
            "Deze maand is er twee keer {premie_bedrag} van mijn rekening afgeschreven voor "
            "polis {polis}. Wilt u het teveel betaalde bedrag terugstorten?",
            "Ik zie op mijn afschrift een incasso van {premie_nieuw} van Polderzeker die ik niet "
            "kan plaatsen. Waar is dit bedrag voor?",
            "Er is een verkeerd bedrag afgeschreven: {premie_nieuw} in plaats van "
            "{premie_bedrag}.",
        ),
        (
            "Mijn rekeningnummer is {iban}.",
            "Het gaat om de afschrijving van {datum}.",
            "Ik heb een screenshot van het afschrift bijgevoegd.",
        ),
        weight=1.3,
    ),
    Intent(
        "termijn",
        ("Betaaltermijn", "Jaarbetaling", "Premie per jaar betalen"),
        (
            "Kan ik de premie voortaan per jaar betalen in plaats van per maand? Krijg ik dan "
            "korting?",
            "Ik wil graag overstappen van betalen per acceptgiro naar automatische incasso.",
            "Kunt u de premie voortaan rond de {25e|28e|1e} van de maand afschrijven in plaats "
            "van aan het begin? Dan is mijn salaris binnen.",
        ),
        ("Mijn rekeningnummer blijft {iban}.", "Het gaat om alle polissen op mijn naam."),
    ),
    Intent(
        "aanmaning",
        ("Aanmaning", "Herinnering betaling", "Ik heb al betaald", "Betalingsherinnering"),
        (
            "Ik ontving een aanmaning voor {premie_bedrag}, maar ik heb dit bedrag op {datum} al "
            "overgemaakt.",
            "Vandaag kreeg ik een betalingsherinnering met kenmerk {factuur}. Volgens mij is "
            "alles betaald, kunt u dit nakijken?",
            "Door een fout van mijn bank is de incasso van {maand} mislukt. Naar welk "
            "rekeningnummer kan ik het bedrag van {premie_bedrag} handmatig overmaken?",
        ),
        (
            "Ik wil niet dat mijn dekking wordt geschorst.",
            "Het betalingsbewijs zit in de bijlage.",
        ),
    ),
    Intent(
        "regeling",
        ("Betalingsregeling", "Verzoek uitstel van betaling", "Betalingsproblemen"),
        (
            "Door {ziekte|een scheiding|het verlies van mijn baan} zit ik tijdelijk financieel "
            "krap. Is het mogelijk een betalingsregeling te treffen voor de achterstallige premie "
            "van {bedrag_klein}?",
            "Kan ik de openstaande nota {factuur} in een paar termijnen betalen?",
        ),
        ("Ik wil de verzekeringen wel graag houden.", "U kunt mij bellen op {tel}."),
    ),
    Intent(
        "nota",
        ("Jaarnota", "Specificatie factuur", "Factuur {factuur}", "Vraag over nota"),
        (
            "Kunt u mij een specificatie van de jaarnota {factuur} sturen? Ik begrijp niet "
            "welke bedragen bij welke polis horen.",
            "Ik heb een factuur van {premie_nieuw} ontvangen, maar ik dacht dat de poliskosten "
            "en assurantiebelasting al inbegrepen waren.",
            "Voor mijn administratie heb ik een overzicht nodig van de premie die ik in {jaar} "
            "heb betaald.",
        ),
        ("Het mag ook per e-mail.",),
    ),
    Intent(
        "restitutie",
        ("Teruggave premie", "Restitutie", "Geld terug na opzegging"),
        (
            "Na het beëindigen van mijn {product} zou ik nog {bedrag_klein} premie terugkrijgen. "
            "Dat bedrag heb ik nog niet ontvangen.",
            "Ik heb de premie voor het hele jaar vooruit betaald, maar de verzekering is per "
            "{datum} gestopt. Hoe wordt het teveel betaalde verrekend?",
        ),
        ("Mijn rekeningnummer is {iban}.", "De opzegbevestiging heb ik bijgevoegd."),
    ),
)

_KLACHTEN = (
    Intent(
        "traag",
        (
            "Klacht",
            "Klacht over afhandeling schade",
            "Ontevreden",
            "Nog steeds geen reactie!!",
            "Klacht schadedossier {claim}",
            "Dit is onacceptabel",
        ),
        (
            "Ik ben ontzettend ontevreden over de afhandeling van mijn schade {claim}. Het is "
            "nu {weken} weken geleden dat ik de schade heb gemeld en ik hoor helemaal niets.",
            "Ik wil een klacht indienen over de manier waarop mijn schademelding wordt "
            "behandeld. Ik word van het kastje naar de muur gestuurd.",
            "Voor de {derde|vierde|vijfde} keer mail ik over schade {claim}. Niemand reageert, "
            "beloftes om terug te bellen worden niet nagekomen. Dit is werkelijk schandalig.",
        ),
        (
            "Als ik binnen een week niets hoor, zeg ik al mijn verzekeringen bij u op.",
            "Ik overweeg een klacht in te dienen bij het Kifid.",
            "Ik ben al {jaren} jaar klant en zo ben ik nog nooit behandeld.",
            "Ik verwacht een excuus en een concrete datum.",
        ),
        weight=1.8,
    ),
    Intent(
        "bejegening",
        ("Klacht over medewerker", "Slechte behandeling", "Onbeschoft behandeld"),
        (
            "De medewerker die ik {vandaag|gisteren|op {datum}} aan de telefoon had, was "
            "onbeschoft en hing zelfs de telefoon op.",
            "Ik voel mij totaal niet serieus genomen door uw klantenservice. Mijn vragen over "
            "{mijn polis|de premie|mijn schade} werden afgedaan met een standaardantwoord.",
        ),
        ("Ik wil dat hier iets mee gedaan wordt.", "Graag een reactie van een leidinggevende."),
    ),
    Intent(
        "afwijzing",
        ("Bezwaar afwijzing", "Niet eens met afwijzing claim", "Bezwaar tegen besluit"),
        (
            "Ik ben het absoluut niet eens met de afwijzing van mijn claim {claim}. Hierbij "
            "maak ik formeel bezwaar tegen uw besluit.",
            "U wijst mijn schade af omdat het 'slijtage' zou zijn, maar dat is onzin. Ik wil dat "
            "een onafhankelijke expert hiernaar kijkt.",
        ),
        (
            "Ik overweeg naar het Kifid te stappen.",
            "In de polisvoorwaarden staat nergens dat dit is uitgesloten.",
        ),
        weight=1.2,
    ),
    Intent(
        "premieklacht",
        ("Klacht premieverhoging", "Schandalige premieverhoging", "Bezwaar premie"),
        (
            "Het is schandalig dat mijn premie zonder enige uitleg met {procent} omhoog gaat, "
            "terwijl ik nooit schade claim.",
            "Ik wil mijn ongenoegen uiten over de premieverhoging van {premie_oud} naar "
            "{premie_nieuw}. Dit is niet uit te leggen aan trouwe klanten.",
        ),
        (
            "Als dit zo doorgaat zeg ik mijn polissen op.",
            "Ik wil dit als officiële klacht geregistreerd zien.",
        ),
    ),
    Intent(
        "onbereikbaar",
        ("Niet bereikbaar", "Klacht bereikbaarheid", "Waarom neemt niemand op?"),
        (
            "Ik probeer al dagen telefonisch contact met u te krijgen, maar ik hang steeds een "
            "half uur in de wacht en dan wordt de verbinding verbroken.",
            "Op mijn mails van {datum2} en {datum} heb ik nooit antwoord gekregen. Dit is geen "
            "service.",
        ),
        ("Dit is geen manier om met klanten om te gaan.",),
    ),
    Intent(
        "afschrijving_klacht",
        ("Klacht onterechte afschrijving", "Zonder toestemming afgeschreven"),
        (
            "U heeft zonder mijn toestemming {premie_nieuw} afgeschreven, terwijl ik mijn "
            "verzekering al lang heb opgezegd. Ik eis dat het geld per direct wordt "
            "teruggestort.",
            "Al {drie|vier} maanden schrijft u premie af voor een polis die ik in {datum2} heb "
            "opgezegd. Ik heb dit al meerdere keren gemeld en er gebeurt niets.",
        ),
        ("Mijn geduld is op.", "Ik heb mijn bank gevraagd de incasso te blokkeren."),
    ),
    Intent(
        "procedure",
        ("Officiële klacht", "Klachtenprocedure", "Hoe dien ik een klacht in"),
        (
            "Hoe kan ik een officiële klacht indienen? Ik heb al {weken} weken een probleem met "
            "mijn {product} en kom er met de klantenservice niet uit.",
            "Graag wil ik uw klachtenprocedure ontvangen. Ik overweeg de zaak voor te leggen "
            "aan het Kifid.",
        ),
        ("Ik verwacht binnen veertien dagen een schriftelijke reactie.",),
        weight=0.7,
    ),
)

_OFFERTES = (
    Intent(
        "auto",
        (
            "Offerte autoverzekering",
            "Aanvraag offerte",
            "Premie berekenen",
            "Autoverzekering afsluiten",
            "offerte {auto}",
        ),
        (
            "Ik wil graag een offerte voor een autoverzekering voor mijn {auto}, bouwjaar "
            "{bouwjaar}, kenteken {kenteken}. Wat wordt de premie bij {WA|beperkt casco|"
            "allrisk}?",
            "Kunt u een premie-indicatie geven voor een {auto} uit {bouwjaar}? Ik heb {jaren} "
            "schadevrije jaren.",
            "Binnenkort koop ik mijn eerste auto, een {auto}. Ik ben {leeftijd} jaar. Wat kost "
            "een verzekering bij jullie?",
        ),
        (
            "Ik rijd ongeveer {km} kilometer per jaar.",
            "Ik woon in {plaats}.",
            "Mijn huidige verzekering loopt af op {datum_toekomst}.",
            "Ik heb een rijbewijs sinds {bouwjaar}.",
        ),
        weight=1.6,
    ),
    Intent(
        "woning",
        ("Offerte woonverzekering", "Nieuwe woning verzekeren", "Opstalverzekering aanvragen"),
        (
            "Wij kopen een huis aan de {adres_nieuw} in {plaats_nieuw} en de notaris vraagt om "
            "een opstalverzekering per {datum_toekomst}. Kunnen jullie een offerte maken?",
            "Ik ga voor het eerst zelfstandig wonen en zoek een inboedel- en "
            "aansprakelijkheidsverzekering. Wat zou dat ongeveer kosten?",
            "Graag ontvang ik een offerte voor een woonhuisverzekering voor een "
            "{tussenwoning|vrijstaand huis|appartement} uit {bouwjaar}.",
        ),
        (
            "De woonoppervlakte is ongeveer {120|95|160} m2.",
            "Ik heb nu nog geen verzekeringen bij u.",
            "De overdracht is op {datum_toekomst}.",
        ),
        weight=1.4,
    ),
    Intent(
        "reis",
        ("Reisverzekering afsluiten", "Offerte reisverzekering", "Doorlopende reisverzekering"),
        (
            "Wij gaan {deze zomer|in {maand}|over een paar weken} naar {land}. Kan ik bij jullie "
            "een doorlopende reisverzekering afsluiten, en wat kost die voor een gezin?",
            "Ik zoek een kortlopende reisverzekering voor een reis van drie weken naar {land}.",
        ),
        ("Inclusief wintersport graag.", "Ik heb verder geen verzekeringen bij u."),
    ),
    Intent(
        "overstappen",
        ("Overstappen", "Overstappen naar Polderzeker", "Verzekeringen onderbrengen"),
        (
            "Ik zit nu bij een andere verzekeraar en overweeg over te stappen. Mijn huidige "
            "premie is {premie_bedrag} per maand; kunnen jullie daar onder gaan?",
            "Ik wil mijn {autoverzekering en inboedelverzekering|verzekeringen} bij jullie "
            "onderbrengen. Regelen jullie ook het opzeggen bij mijn huidige verzekeraar?",
        ),
        (
            "Ik heb {jaren} schadevrije jaren.",
            "Mijn huidige polis loopt tot {datum_toekomst}.",
        ),
        weight=1.2,
    ),
    Intent(
        "pakket",
        ("Pakketkorting", "Korting bij meerdere verzekeringen", "Extra verzekering afsluiten"),
        (
            "Ik heb mijn autoverzekering al bij jullie ({polis}). Als ik ook mijn woonhuis bij "
            "jullie verzeker, krijg ik dan pakketkorting?",
            "Mijn {dochter|zoon} {kind} heeft een scooter gekocht. Kunnen jullie die ook "
            "verzekeren, en wat kost dat?",
            "Naast mijn huidige polis {polis} wil ik een rechtsbijstandverzekering afsluiten. "
            "Kunt u mij een offerte sturen?",
        ),
        ("Graag een offerte per e-mail.",),
        weight=1.1,
    ),
    Intent(
        "zakelijk",
        ("Offerte bedrijfsverzekering", "Verzekering voor zzp", "Aansprakelijkheid zakelijk"),
        (
            "Ik start binnenkort als zzp'er ({schilder|fotograaf|ICT-consultant|hovenier}) en "
            "zoek een beroeps- en bedrijfsaansprakelijkheidsverzekering.",
            "Voor mijn eenmanszaak zoek ik een verzekering voor mijn bedrijfsbus. Kunnen jullie "
            "een offerte maken?",
        ),
        ("Mijn KvK-nummer volgt.", "De omzet is nog beperkt."),
        weight=0.7,
    ),
    Intent(
        "opvolging",
        ("Uw offerte {offerte}", "Offerte accepteren", "Vraag over offerte {offerte}"),
        (
            "Hartelijk dank voor de offerte {offerte}. Ik wil deze graag accepteren; wat moet "
            "ik nog doen?",
            "Ik heb offerte {offerte} ontvangen. Klopt het dat het eigen risico daarin "
            "{eigen_risico} is? Kan dat lager?",
            "Bijgaand de getekende offerte {offerte}. Kan de verzekering per {datum_toekomst} "
            "ingaan?",
        ),
        ("Mijn rekeningnummer voor de incasso is {iban}.",),
    ),
)

_OPZEGGINGEN = (
    Intent(
        "auto_verkocht",
        ("Opzegging autoverzekering", "Auto verkocht", "Beëindigen verzekering", "Auto gesloopt"),
        (
            "Ik heb mijn {auto} met kenteken {kenteken} per {datum} verkocht. Wilt u de "
            "autoverzekering {polis} per die datum beëindigen?",
            "Mijn auto is total loss verklaard en gesloopt; het vrijwaringsbewijs zit in de "
            "bijlage. Graag de verzekering stopzetten.",
            "Ik heb geen auto meer nodig en wil de verzekering van mijn {auto} opzeggen.",
        ),
        (
            "Graag ontvang ik een royementsverklaring voor mijn schadevrije jaren.",
            "De teveel betaalde premie mag naar {iban}.",
            "Het vrijwaringsbewijs zit in de bijlage.",
        ),
        weight=1.6,
    ),
    Intent(
        "overstap",
        ("Opzegging", "Opzeggen verzekering", "Beëindiging polis {polis}", "Opzegbrief"),
        (
            "Hierbij zeg ik mijn {product} met polisnummer {polis} op per {datum_toekomst}. Ik "
            "heb elders een verzekering afgesloten.",
            "Graag wil ik al mijn verzekeringen bij Polderzeker beëindigen. Ik stap over naar "
            "een andere maatschappij.",
            "Wilt u mijn {product} per de eerstvolgende mogelijke datum opzeggen?",
        ),
        (
            "Graag een schriftelijke bevestiging van de opzegging.",
            "Mijn nieuwe verzekeraar gaat per {datum_toekomst} in.",
        ),
        weight=1.5,
    ),
    Intent(
        "te_duur",
        ("Opzeggen ivm premie", "Opzegging wegens premieverhoging"),
        (
            "Vanwege de {forse|flinke} premieverhoging naar {premie_nieuw} zeg ik mijn "
            "{product} op. Elders ben ik goedkoper uit.",
            "Ik heb de nieuwe premie van {premie_nieuw} gezien en heb besloten de verzekering "
            "niet te verlengen. Graag beëindigen per {datum_toekomst}.",
        ),
        ("Graag een bevestiging.", "Dank voor de jaren van goede service."),
    ),
    Intent(
        "overlijden",
        ("Overlijden verzekeringnemer", "Beëindiging na overlijden", "Overlijden {naam2}"),
        (
            "Helaas is mijn {vader|moeder|echtgenoot|echtgenote}, {naam2}, op {datum} "
            "overleden. Ik wil graag de verzekeringen op {zijn|haar} naam beëindigen.",
            "Namens de familie van {naam2} laat ik u weten dat {hij|zij} is overleden. De "
            "woning wordt verkocht; de verzekeringen kunnen per {datum_toekomst} stoppen.",
        ),
        (
            "Een kopie van de overlijdensakte stuur ik mee.",
            "Post kan voortaan naar mijn adres: {adres}, {postcode} {plaats}.",
        ),
    ),
    Intent(
        "emigratie",
        ("Emigratie", "Verhuizing naar buitenland", "Opzeggen ivm emigratie"),
        (
            "Per {datum_toekomst} emigreer ik naar {land}. Ik wil daarom al mijn verzekeringen "
            "bij u stopzetten.",
            "Wij verhuizen definitief naar {land}. Kunnen de inboedel- en "
            "aansprakelijkheidsverzekering per de verhuisdatum worden opgezegd?",
        ),
        ("Mijn nieuwe adres in het buitenland geef ik nog door.",),
        weight=0.7,
    ),
    Intent(
        "bevestiging",
        ("Bevestiging opzegging", "Is mijn opzegging verwerkt?", "Opzegging {polis}"),
        (
            "Op {datum} heb ik mijn {product} opgezegd, maar ik heb nog geen bevestiging "
            "ontvangen. Kunt u bevestigen dat de opzegging is verwerkt?",
            "Klopt het dat polis {polis} per {datum_toekomst} is beëindigd? Ik zie daar niets "
            "over in Mijn Polderzeker.",
        ),
        ("Mijn nieuwe verzekeraar vraagt om het bewijs.",),
    ),
    Intent(
        "bedenktijd",
        ("Annuleren binnen bedenktijd", "Verzekering annuleren"),
        (
            "Vorige week heb ik online een {product} afgesloten, maar ik wil deze binnen de "
            "bedenktijd annuleren.",
            "Ik heb per ongeluk twee keer een reisverzekering afgesloten. Wilt u de tweede "
            "polis {polis2} laten vervallen?",
        ),
        ("Er is nog niets afgeschreven, hoop ik.",),
        weight=0.7,
    ),
    Intent(
        "samenwonen",
        ("Dubbele verzekering", "Opzeggen inboedelverzekering", "Samenwonen"),
        (
            "Mijn partner en ik gaan samenwonen en {zij|hij} heeft al een inboedel- en "
            "aansprakelijkheidsverzekering. Mijn eigen verzekeringen kunnen daarom per "
            "{datum_toekomst} vervallen.",
            "Ik ben ingetrokken bij mijn vriend en mijn inboedelverzekering {polis} is nu dubbel. "
            "Graag opzeggen.",
        ),
        ("Het adres van mijn partner is {adres_nieuw} in {plaats_nieuw}.",),
    ),
)

_PERSOONSGEGEVENS = (
    Intent(
        "adres",
        ("Adreswijziging", "Nieuw adres", "Wijziging adres", "Verhuisd", "adres"),
        (
            "Mijn adres is gewijzigd. Mijn nieuwe adres is {adres_nieuw}, {postcode_nieuw} "
            "{plaats_nieuw}.",
            "Wilt u mijn adres aanpassen? Vanaf {datum_toekomst} woon ik op {adres_nieuw} in "
            "{plaats_nieuw}. Ik heb bij u alleen een {autoverzekering|reisverzekering}.",
            "Ik ben verhuisd en de post komt nog op het oude adres. Graag het adres wijzigen in "
            "{adres_nieuw}, {postcode_nieuw} {plaats_nieuw}.",
        ),
        (
            "Mijn polisnummer is {polis}.",
            "Mijn geboortedatum staat in Mijn Polderzeker.",
            "Mijn oude adres was {adres} in {plaats}.",
        ),
        weight=1.6,
    ),
    Intent(
        "iban",
        ("Nieuw rekeningnummer", "Wijziging IBAN", "Ander rekeningnummer", "IBAN"),
        (
            "Ik heb een nieuw rekeningnummer: {iban_nieuw}. Wilt u de premie voortaan van deze "
            "rekening afschrijven?",
            "Graag wijzig ik mijn bankrekeningnummer van {iban} naar {iban_nieuw} voor alle "
            "polissen.",
            "Wij zijn overgestapt naar een andere bank. Het nieuwe rekeningnummer is "
            "{iban_nieuw}, ten name van {naam}.",
        ),
        (
            "Het oude rekeningnummer wordt per {datum_toekomst} opgeheven.",
            "De machtiging voor de automatische incasso mag op het nieuwe nummer.",
        ),
        weight=1.4,
    ),
    Intent(
        "naam",
        ("Naamswijziging", "Wijziging achternaam", "Naam aanpassen"),
        (
            "Na {mijn huwelijk|mijn scheiding} wil ik graag dat mijn achternaam wordt aangepast "
            "in {{achternaam}|mijn meisjesnaam}.",
            "Mijn naam staat verkeerd gespeld op mijn polisblad: er staat '{achternaam}' "
            "zonder de juiste schrijfwijze. Kunt u dit corrigeren?",
        ),
        ("Een kopie van mijn paspoort kan ik opsturen.",),
    ),
    Intent(
        "contact",
        ("Nieuw e-mailadres", "Nieuw telefoonnummer", "Contactgegevens wijzigen"),
        (
            "Mijn e-mailadres is gewijzigd. Wilt u voortaan {email_nieuw} gebruiken?",
            "Mijn telefoonnummer is veranderd, het nieuwe nummer is {tel_nieuw}.",
            "Graag wil ik mijn contactgegevens bijwerken: telefoon {tel_nieuw}, e-mail "
            "{email_nieuw}.",
        ),
        ("Het oude e-mailadres wordt niet meer gelezen.",),
        weight=1.2,
    ),
    Intent(
        "avg",
        ("Inzageverzoek AVG", "Verzoek inzage persoonsgegevens", "Verwijderen gegevens"),
        (
            "Op grond van de AVG verzoek ik u om inzage in alle persoonsgegevens die u van mij "
            "verwerkt.",
            "Ik wil dat u al mijn gegevens verwijdert nu ik geen klant meer ben. Kunt u "
            "bevestigen dat dit gebeurd is?",
            "Ik wil weten aan welke partijen u mijn gegevens heeft verstrekt.",
        ),
        ("U heeft hiervoor een maand de tijd volgens de wet.",),
        weight=0.8,
    ),
    Intent(
        "geboortedatum",
        ("Foute geboortedatum", "Correctie gegevens", "Gegevens kloppen niet"),
        (
            "Op mijn polisblad staat een verkeerde geboortedatum. Mijn juiste geboortedatum is "
            "{datum2}.",
            "In Mijn Polderzeker staan mijn voorletters en tussenvoegsel verkeerd.",
        ),
        ("Wilt u dit in uw systeem aanpassen?",),
        weight=0.7,
    ),
    Intent(
        "post_naar",
        ("Post naar ander adres", "Correspondentie", "Machtiging"),
        (
            "Mijn moeder, {naam2}, is {84|88|91} en kan haar zaken niet meer zelf regelen. Ik "
            "wil graag dat de post voortaan naar mij gaat: {adres_nieuw}, {plaats_nieuw}.",
            "Ik wil geen post meer op papier ontvangen; stuur alles voortaan naar "
            "{email_nieuw}.",
        ),
        ("Een machtiging kan ik meesturen.",),
    ),
)

_ALGEMEEN = (
    Intent(
        "inloggen",
        ("Inloggen lukt niet", "Probleem met Mijn Polderzeker", "App werkt niet", "Wachtwoord"),
        (
            "Ik kan niet inloggen op Mijn Polderzeker. Ik krijg steeds de melding dat mijn "
            "gegevens onjuist zijn.",
            "De app van Polderzeker geeft na de update alleen nog een wit scherm.",
            "Ik heb mijn wachtwoord opnieuw aangevraagd, maar de mail komt niet aan.",
        ),
        ("Ik gebruik een {iPhone|Android-telefoon|laptop}.", "Mijn klantnummer is {relatie}."),
        weight=1.3,
    ),
    Intent(
        "documenten",
        ("Kopie polisblad", "Groene kaart", "Verzekeringsbewijs", "Polisvoorwaarden"),
        (
            "Kunt u mij een kopie van het polisblad van {polis} sturen? Ik kan het niet meer "
            "vinden.",
            "Voor onze vakantie naar {land} heb ik een groene kaart nodig. Kunt u die mailen?",
            "Waar kan ik de polisvoorwaarden van mijn {product} vinden?",
            "De hypotheekverstrekker vraagt om een bewijs dat ons huis verzekerd is. Kunt u dat "
            "sturen?",
        ),
        ("Het mag per e-mail.", "Ik heb het voor {datum_toekomst} nodig."),
        weight=1.4,
    ),
    Intent(
        "dekkingsvraag",
        ("Vraag over dekking", "Ben ik verzekerd?", "Vraagje", "Dekking"),
        (
            "Ben ik verzekerd als ik in het buitenland in een huurauto rijd?",
            "Valt {een gestolen fiets van mijn logé|schade door mijn hond|schade aan een "
            "gehuurde aanhanger} onder mijn verzekering? Er is nog niets gebeurd, ik wil het "
            "alleen weten.",
            "Is mijn laptop meeverzekerd als ik hem meeneem naar mijn werk?",
        ),
        ("Mijn polisnummer is {polis}.", "Alvast bedankt voor de uitleg."),
        weight=1.3,
    ),
    Intent(
        "terugbellen",
        ("Terugbelverzoek", "Graag contact", "Telefonisch contact", "Bellen"),
        (
            "Kunt u mij terugbellen op {tel}? Ik heb een vraag over mijn verzekeringen.",
            "Wat zijn uw openingstijden? Ik wil graag iemand spreken over mijn {product}.",
            "Ik word graag gebeld door een adviseur over mijn verzekeringen in het algemeen.",
        ),
        ("Ik ben het best bereikbaar na {tijd}.",),
    ),
    Intent(
        "brief",
        ("Uw brief", "Brief ontvangen", "Wat moet ik doen?"),
        (
            "Ik ontving een brief van u over {wijzigingen in de voorwaarden|mijn polis|het "
            "nieuwe pakket}, maar ik begrijp niet wat ik moet doen.",
            "Er kwam een envelop van Polderzeker met een brief die niet voor mij bedoeld is; "
            "die is voor {naam2}.",
        ),
        ("Moet ik zelf nog iets regelen?",),
    ),
    Intent(
        "phishing",
        ("Is deze mail echt?", "Verdachte e-mail", "Phishing?"),
        (
            "Ik kreeg een mail zogenaamd van Polderzeker met het verzoek om mijn "
            "rekeningnummer te bevestigen via een link. Is die echt?",
            "Er belde iemand namens Polderzeker die vroeg om mijn inloggegevens. Klopt dat?",
        ),
        ("Ik heb niet op de link geklikt.",),
        weight=0.7,
    ),
    Intent(
        "verklaring",
        ("Schadevrije jaren", "Verklaring schadevrije jaren", "Royementsverklaring"),
        (
            "Kunt u mij een overzicht van mijn schadevrije jaren sturen? Mijn leasemaatschappij "
            "vraagt erom.",
            "Voor een nieuwe verzekering heb ik een royementsverklaring nodig van mijn oude "
            "autoverzekering {polis}.",
        ),
        ("Het mag digitaal.",),
        weight=0.8,
    ),
    Intent(
        "overig",
        ("Samenwerking", "Vraag", "Informatie", "Sponsoring"),
        (
            "Wij zijn een {schoonmaakbedrijf|drukkerij|IT-bedrijf} uit {plaats} en willen graag "
            "kennismaken met uw inkoopafdeling.",
            "Onze {voetbalclub|hockeyclub|muziekvereniging} zoekt sponsors. Staat Polderzeker "
            "open voor een gesprek?",
            "Ik ben student en doe onderzoek naar klantenservice bij verzekeraars. Mag ik u "
            "een paar vragen stellen?",
        ),
        ("Met vriendelijke groet en alvast dank.",),
        weight=0.6,
    ),
)

PHRASEBOOK = Phrasebook(
    language="nl",
    months=MONTHS_NL,
    weekdays=("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    greetings_formal=(
        "Geachte heer, mevrouw,",
        "Geachte {aanhef},",
        "Geachte medewerker,",
        "Beste medewerker,",
        "L.S.,",
        "Geachte dames en heren,",
    ),
    greetings_informal=(
        "Beste,",
        "Hallo,",
        "Goedemiddag,",
        "Goedemorgen,",
        "Goedendag,",
        "Hoi,",
        "Beste Polderzeker,",
        "Dag,",
        "Beste mensen,",
    ),
    preambles=(
        "Ik ben al {jaren} jaar klant bij u.",
        "Mijn polisnummer is {polis}.",
        "Ik heb eerder vandaag gebeld met uw klantenservice, maar moest het per mail sturen.",
        "Ik mail namens mijn {moeder|vader|schoonmoeder}, {naam2}.",
        "Via de website kwam ik er niet uit, dus daarom deze mail.",
        "Mijn relatienummer is {relatie}.",
        "Ik heb een vraag over polis {polis}.",
        "Excuus voor de late reactie, ik was op vakantie.",
        "Ik heb bij u meerdere verzekeringen lopen.",
        "Naar aanleiding van ons telefoongesprek van {datum} het volgende.",
        "Ik heb hier al eerder over gemaild.",
    ),
    fillers=(
        "Ik moet zeggen dat ik het allemaal best ingewikkeld vind.",
        "Normaal regelt mijn {man|vrouw} dit soort dingen, maar die ligt in het ziekenhuis.",
        "Ik heb geprobeerd het in de app te regelen maar daar kwam ik niet verder.",
        "Het is een drukke periode met werk en de kinderen, vandaar dat ik nu pas mail.",
        "Mijn buurman zei dat ik het beter even kon melden, voor de zekerheid.",
        "Ik weet niet precies of ik bij u aan het goede adres ben.",
        "Het kan zijn dat ik iets over het hoofd zie, dan hoor ik het graag.",
        "Het liefst handel ik dit per mail af, bellen lukt overdag slecht.",
        "Eerlijk gezegd heb ik de brieven van de afgelopen tijd niet allemaal goed gelezen.",
        "Ik ben {jaren} jaar geleden via mijn vader bij jullie terechtgekomen.",
        "Ik heb ook nog een vraag over iets anders, maar dat komt later wel.",
        "Ik hoop dat dit allemaal duidelijk is, anders hoor ik het wel.",
    ),
    closings=(
        "Alvast bedankt.",
        "Ik hoor graag van u.",
        "Bij voorbaat dank.",
        "Graag een reactie.",
        "Kunt u mij laten weten of dit gelukt is?",
        "Graag hoor ik zo snel mogelijk van u.",
        "Bedankt voor de moeite.",
        "Als u nog iets nodig heeft, hoor ik het graag.",
    ),
    signoffs=(
        "Met vriendelijke groet,",
        "Met vriendelijke groeten,",
        "Vriendelijke groet,",
        "Groeten,",
        "Groet,",
        "Mvg,",
        "Met vriendelijke groet",
        "Hoogachtend,",
        "Gr.",
    ),
    device_signatures=(
        "Verzonden vanaf mijn iPhone",
        "Verstuurd vanaf mijn iPad",
        "Verzonden vanaf mijn Samsung Galaxy-smartphone.",
        "Verzonden vanuit Mail voor Windows",
        "Sent from my iPhone",
        "Verstuurd vanaf mijn telefoon",
    ),
    disclaimers=(
        "Dit e-mailbericht is alleen bedoeld voor de geadresseerde. Heeft u dit bericht per "
        "vergissing ontvangen, laat het de afzender dan weten en verwijder het bericht.",
        "Denk aan het milieu voordat u deze e-mail print.",
    ),
    generic_subjects=(
        "Vraag",
        "Polis {polis}",
        "Mijn verzekering",
        "Informatie",
        "Graag reactie",
        "Belangrijk",
        "Verzoek",
        "vraagje",
        "Polisnummer {polis}",
        "Relatienummer {relatie}",
        "Contact",
        "Hulp gevraagd",
        "Dringend",
        "",
    ),
    intents={
        "schade": _SCHADE,
        "polis-wijzigen": _POLIS,
        "premie": _PREMIE,
        "klachten": _KLACHTEN,
        "offertes": _OFFERTES,
        "opzeggingen": _OPZEGGINGEN,
        "persoonsgegevens": _PERSOONSGEGEVENS,
        "algemeen": _ALGEMEEN,
    },
    mentions={
        "schade": (
            "Verder is er vorige week ook nog {een ruit gesneuveld|een deuk in mijn auto "
            "gekomen|schade aan de schutting ontstaan}, maar dat meld ik nog apart.",
            "Tussen haakjes: mijn schade {claim} is nog steeds niet afgehandeld.",
            "Vorige maand is mijn auto aangereden; die schade is inmiddels netjes afgehandeld.",
            "De waterschade van vorig jaar is trouwens nog steeds niet helemaal hersteld.",
            "Ik heb ook nog een schadeformulier liggen voor de {fiets|auto} van mijn {zoon|"
            "dochter}, dat stuur ik later.",
        ),
        "polis-wijzigen": (
            "Verder wil ik ook {de caravan meeverzekeren|het eigen risico verhogen|mijn "
            "dekking uitbreiden}, maar daar kom ik later op terug.",
            "Binnenkort krijg ik ook een andere auto, die moet dan op de polis.",
            "Sinds kort rijden we in een {auto}, dat heb ik al doorgegeven.",
            "We hebben onlangs de dekking van de inboedelverzekering aangepast na de verbouwing.",
            "Misschien wil ik later de allrisk omzetten naar WA, maar dat zie ik nog wel.",
        ),
        "premie": (
            "Ik zag trouwens dat de premie weer omhoog is gegaan.",
            "Ook is er deze maand een vreemd bedrag afgeschreven, maar dat zoek ik nog uit.",
            "Vorige maand is de premie twee keer afgeschreven, maar dat is al rechtgezet.",
            "De incasso van de premie loopt gewoon via {iban}.",
            "De jaarnota van {premie_nieuw} heb ik inmiddels betaald.",
        ),
        "klachten": (
            "Ik vind het overigens jammer dat ik zo lang op een antwoord moet wachten.",
            "Eerlijk gezegd ben ik niet tevreden over hoe het tot nu toe gaat.",
            "Ik heb eerder een klacht ingediend over de lange wachttijden aan de telefoon.",
            "Vorige keer werd ik erg onvriendelijk te woord gestaan, dat wil ik toch even kwijt.",
        ),
        "offertes": (
            "Los daarvan zou ik graag een offerte ontvangen voor een {reisverzekering|"
            "rechtsbijstandverzekering}.",
            "Kunt u mij ook laten weten wat een verzekering voor de scooter van mijn zoon kost?",
            "Ik heb ook een offerte aangevraagd voor een woonhuisverzekering, maar die heb ik "
            "nog niet ontvangen.",
            "Misschien sluit ik later nog een {autoverzekering|reisverzekering} bij jullie af.",
        ),
        "opzeggingen": (
            "Mijn {reisverzekering|caravanverzekering} mag trouwens worden opgezegd, die "
            "gebruik ik niet meer.",
            "Mocht dit niet lukken, dan denk ik erover om over te stappen.",
            "Mijn {reisverzekering|fietsverzekering} heb ik vorig jaar al opgezegd.",
            "Ik heb overwogen om mijn polissen op te zeggen en over te stappen.",
        ),
        "persoonsgegevens": (
            "PS: mijn telefoonnummer is veranderd, het is nu {tel_nieuw}.",
            "Ook heb ik een nieuw e-mailadres: {email_nieuw}.",
            "Wilt u ook mijn rekeningnummer wijzigen naar {iban_nieuw}?",
            "Mijn nieuwe adres heeft u al, dat heb ik vorige maand doorgegeven.",
            "Let op: mijn achternaam wordt nog steeds verkeerd gespeld in uw brieven.",
        ),
        "algemeen": (
            "PS: inloggen op Mijn Polderzeker lukt ook al een tijdje niet.",
            "Kunt u mij ook nog een kopie van mijn polisblad sturen?",
            "Ik heb uw polisvoorwaarden er al bij gepakt, maar werd er niet veel wijzer van.",
            "Wat zijn eigenlijk uw openingstijden op zaterdag?",
        ),
    },
    confounders={
        "schade": (
            "Gaat mijn premie hierdoor omhoog?",
            "Ik wil mijn verzekering niet opzeggen, maar ik wil wel dat dit goed wordt "
            "afgehandeld.",
            "Ik wacht nu al {weken} weken en heb al twee keer gebeld.",
            "Mijn adres is inmiddels {adres_nieuw}, dus stuur de post graag daarheen.",
            "Het bedrag mag naar rekeningnummer {iban}.",
            "Verandert er hierdoor iets aan mijn polis of mijn schadevrije jaren?",
            "Ik ben hier niet blij mee, maar ik begrijp dat het even kan duren.",
        ),
        "polis-wijzigen": (
            "Ik wil de verzekering niet opzeggen, alleen aanpassen.",
            "Wat wordt dan de nieuwe premie per maand?",
            "Mijn adresgegevens blijven verder hetzelfde.",
            "Ik heb bij u nog nooit schade geclaimd.",
            "Moet ik hiervoor een nieuwe offerte aanvragen of kan het op de huidige polis?",
            "De premie mag via dezelfde incasso blijven lopen.",
        ),
        "premie": (
            "Ik wil niet meteen opzeggen, maar zo wordt het wel erg duur.",
            "Ik heb het afgelopen jaar geen enkele schade gemeld.",
            "Moet ik hiervoor mijn polis aanpassen?",
            "Het rekeningnummer is hetzelfde gebleven: {iban}.",
            "Ik ben niet boos, ik wil het alleen begrijpen.",
            "Elders kreeg ik een offerte die een stuk goedkoper is.",
        ),
        "klachten": (
            "Het gaat om mijn {product} met polisnummer {polis}.",
            "De schade zelf is inmiddels gerepareerd, daar gaat het niet om.",
            "Ik wil mijn verzekeringen eigenlijk niet opzeggen, maar zo kan het niet langer.",
            "De premie betaal ik altijd keurig op tijd.",
            "Ik heb mijn nieuwe rekeningnummer al twee keer doorgegeven.",
            "Ik vraag niet om een nieuwe offerte, ik wil gewoon dat het wordt opgelost.",
        ),
        "offertes": (
            "Mijn huidige verzekering zeg ik dan zelf op.",
            "Bij mijn huidige verzekeraar is de premie net met {procent} gestegen.",
            "Ik heb in de afgelopen vijf jaar één schade gehad.",
            "Ik verhuis binnenkort naar {plaats_nieuw}.",
            "Mijn gegevens: {naam}, {adres}, {postcode} {plaats}.",
            "Kan de premie per maand worden afgeschreven?",
        ),
        "opzeggingen": (
            "Ik heb verder geen klachten over jullie service.",
            "De laatste premie is al afgeschreven; het teveel betaalde hoor ik graag terug.",
            "Er staan geen schades meer open.",
            "Mijn nieuwe adres is {adres_nieuw}, {plaats_nieuw}.",
            "Een nieuwe offerte hoef ik niet te ontvangen.",
            "Ik wil de polis niet wijzigen maar echt beëindigen.",
        ),
        "persoonsgegevens": (
            "Aan de verzekeringen zelf hoeft niets te veranderen.",
            "De premie mag gewoon doorlopen via automatische incasso.",
            "Ik heb geen schade, het gaat alleen om mijn gegevens.",
            "Ik wil niets opzeggen.",
            "Geldt dit ook voor mijn {product}?",
            "Ik ben verhuisd, maar de polis zelf blijft hetzelfde.",
        ),
        "algemeen": (
            "Ik heb geen schade, ik wil het alleen weten.",
            "Ik wil niets wijzigen aan mijn polis.",
            "Over de premie heb ik geen vragen.",
            "Het gaat om polis {polis}.",
            "Moet ik hiervoor een offerte aanvragen?",
            "Ik wil mijn verzekering niet opzeggen hoor.",
        ),
    },
    background_wrappers=(
        'Eerder schreef ik u het volgende: "{earlier}" Dat is inmiddels netjes geregeld.',
        "Vorige maand heb ik u al gemaild over het volgende: {earlier} Dat is afgehandeld, "
        "dank daarvoor.",
        "Mijn {man|vrouw|partner} heeft u eerder al laten weten: {earlier} Dat is inmiddels "
        "opgelost, maar nu speelt er iets anders.",
        "Naar aanleiding van mijn vorige mail ({earlier}) heb ik nog een andere vraag.",
        "Eerder meldde ik: {earlier} Daar heb ik inmiddels antwoord op gekregen.",
        "In {maand} schreef ik: {earlier} Dat is allemaal goed gekomen.",
    ),
    request_markers=(
        "Nu heb ik een andere vraag.",
        "Mijn vraag van vandaag:",
        "Waar ik nu voor mail:",
        "Deze keer gaat het om iets anders.",
        "",
        "",
    ),
    switch_openers=(
        "Ik maak even gebruik van deze mail voor iets anders.",
        "Ander onderwerp:",
        "Nog iets anders:",
        "Los daarvan:",
        "Dit staat los van onderstaande mail.",
        "Ik reageer even op deze oude mail omdat ik uw adres niet kon vinden.",
        "",
    ),
    vague=(
        VagueMail(("schade", "opzeggingen", "persoonsgegevens", "premie", "polis-wijzigen"),
                  "Formulier", "Zie bijlage."),
        VagueMail(("schade", "opzeggingen", "persoonsgegevens", "offertes", "algemeen"),
                  "Scan", "Zie bijlage"),
        VagueMail(("schade", "persoonsgegevens", "opzeggingen", "polis-wijzigen"),
                  "Documenten", "Hierbij de gevraagde documenten."),
        VagueMail(("schade", "premie", "klachten"), "", "zie bijlage"),
        VagueMail(("schade", "schade", "polis-wijzigen", "offertes"), "Foto's",
                  "Hierbij de foto's."),
        VagueMail(("schade", "klachten", "premie", "opzeggingen"), "Aanvulling",
                  "Hierbij nog een aanvulling op mijn eerdere mail."),
        VagueMail(("opzeggingen", "klachten", "polis-wijzigen"), "Brief",
                  "In de bijlage mijn brief."),
        VagueMail(("offertes", "polis-wijzigen", "opzeggingen"), "Getekend",
                  "Hierbij getekend retour."),
        VagueMail(("offertes", "opzeggingen", "persoonsgegevens", "algemeen"), "Formulier",
                  "Bijgaand het ingevulde formulier."),
        VagueMail(("premie", "schade"), "Betaalbewijs", "Zie bijlage."),
        VagueMail(("premie", "klachten", "algemeen"), "Factuur", "Klopt deze factuur?"),
        VagueMail(("algemeen", "klachten", "polis-wijzigen", "premie", "schade"), "Vraag",
                  "Graag terugbellen op {tel}."),
        VagueMail(("algemeen", "klachten", "schade"), "", "Bel mij even terug aub"),
        VagueMail(("algemeen", "persoonsgegevens", "polis-wijzigen", "premie"), "Polis {polis}",
                  "Zie bijlage."),
        VagueMail(("klachten", "schade", "premie"), "Reactie", "Ik wacht nog steeds."),
        VagueMail(("polis-wijzigen", "premie", "offertes"), "Vraag",
                  "Kunt u mij even bellen over mijn polis? {tel}"),
        VagueMail(("klachten", "algemeen", "schade"), "", "Graag z.s.m. contact opnemen. {tel}"),
        VagueMail(("persoonsgegevens", "polis-wijzigen", "opzeggingen"), "Gegevens",
                  "Hierbij mijn gegevens."),
    ),
    reply_lines={
        "schade": (
            "Hierbij alsnog de foto's van de schade.",
            "De offerte van de garage zit in de bijlage: {bedrag}.",
            "De expert mag op {datum_toekomst} komen.",
            "Wanneer wordt het bedrag uitgekeerd?",
        ),
        "polis-wijzigen": (
            "De wijziging mag per {datum_toekomst} ingaan.",
            "Ja, graag met dezelfde dekking als nu.",
            "Wat wordt de nieuwe maandpremie?",
        ),
        "premie": (
            "Het betalingsbewijs zit in de bijlage.",
            "Dus het bedrag wordt teruggestort? Wanneer dan?",
            "Ik heb het bedrag vandaag overgemaakt.",
        ),
        "klachten": (
            "Dit antwoord vind ik niet voldoende.",
            "Ik wacht nog steeds op een concrete oplossing.",
            "Dan leg ik het voor aan het Kifid.",
        ),
        "offertes": (
            "Ik ga akkoord met de offerte.",
            "Kan het eigen risico nog omlaag?",
            "Kunt u ook een offerte maken met allrisk?",
        ),
        "opzeggingen": (
            "Het vrijwaringsbewijs zit in de bijlage.",
            "Graag nog een bevestiging van de einddatum.",
            "De ingangsdatum van de nieuwe verzekering is {datum_toekomst}.",
        ),
        "persoonsgegevens": (
            "Het is inderdaad {adres_nieuw}, {postcode_nieuw} {plaats_nieuw}.",
            "Het rekeningnummer is {iban_nieuw}.",
            "Een kopie van mijn identiteitsbewijs zit in de bijlage.",
        ),
        "algemeen": (
            "Het is gelukt, dank u wel!",
            "Het werkt nog steeds niet.",
            "Dank voor de uitleg.",
        ),
    },
    generic_reply_lines=(
        "Dank voor uw snelle reactie.",
        "Zie bijlage.",
        "Ik heb nog steeds niets gehoord, kunt u mij laten weten hoe het ervoor staat?",
        "Prima, dan wacht ik het af.",
        "Zoals gevraagd stuur ik hierbij de gegevens.",
        "Ik begrijp uw antwoord niet helemaal. Wat moet ik nu precies doen?",
        "Oké, bedankt.",
        "Kunt u mij hierover bellen op {tel}?",
    ),
    followups=(
        "Ik heb op onderstaande mail nog geen reactie gehad.",
        "Graag een reactie op mijn mail hieronder.",
        "Nog een aanvulling op mijn vorige mail: het gaat om polis {polis}.",
        "Hierbij stuur ik mijn mail nogmaals, ik heb nog niets gehoord.",
    ),
    insurer_answers={
        "schade": (
            "Bedankt voor uw schademelding. Wij hebben uw schade geregistreerd onder nummer "
            "{claim}. Wilt u ons foto's van de schade en de reparatieofferte sturen?",
            "Wij hebben een expert ingeschakeld voor uw schade {claim}. Hij neemt binnen vijf "
            "werkdagen contact met u op.",
            "Uw claim is goedgekeurd. Het bedrag van {bedrag}, na aftrek van het eigen risico, "
            "maken wij binnen tien werkdagen over.",
        ),
        "polis-wijzigen": (
            "Bedankt voor het doorgeven van de wijziging. Voordat wij uw polis aanpassen, "
            "hebben wij nog de ingangsdatum nodig.",
            "Uw polis {polis} is aangepast. U ontvangt het nieuwe polisblad binnen enkele "
            "dagen.",
        ),
        "premie": (
            "Wij hebben uw vraag over de premie bekeken. De verhoging komt door de jaarlijkse "
            "indexering en de gestegen schadelast.",
            "Wij hebben de dubbele afschrijving gecontroleerd en storten {premie_bedrag} binnen "
            "vijf werkdagen terug.",
        ),
        "klachten": (
            "Wij betreuren het dat u ontevreden bent. Uw klacht is geregistreerd en wordt "
            "binnen tien werkdagen behandeld door onze klachtencoördinator.",
            "Naar aanleiding van uw klacht hebben wij uw dossier opnieuw bekeken.",
        ),
        "offertes": (
            "Hartelijk dank voor uw interesse. In de bijlage vindt u offerte {offerte}. De "
            "offerte is dertig dagen geldig.",
            "Om een offerte te kunnen maken hebben wij uw geboortedatum en het aantal "
            "schadevrije jaren nodig.",
        ),
        "opzeggingen": (
            "Wij hebben uw opzegging ontvangen. Wilt u ons nog het vrijwaringsbewijs sturen?",
            "Uw verzekering {polis} wordt beëindigd per {datum_toekomst}. U ontvangt een "
            "royementsverklaring per post.",
        ),
        "persoonsgegevens": (
            "Wij hebben uw gegevens aangepast. Wilt u controleren of het onderstaande klopt?",
            "Voor het wijzigen van uw gegevens hebben wij een kopie van uw legitimatie nodig.",
        ),
        "algemeen": (
            "Bedankt voor uw bericht. U kunt dit regelen via Mijn Polderzeker onder 'Mijn "
            "gegevens'.",
            "In de bijlage vindt u het gevraagde document.",
        ),
    },
    insurer_signoffs=(
        "Met vriendelijke groet,\n\n{medewerker}\nKlantenservice Polderzeker\nT 088-000 1234",
        "Met vriendelijke groet,\n\n{medewerker}\nPolderzeker Verzekeringen",
        "Hartelijke groet,\n{medewerker} | Polderzeker",
    ),
    forward_notes_broker=(
        "Beste collega's,\n\nHieronder een bericht van onze relatie {naam}. Willen jullie dit "
        "in behandeling nemen?",
        "Goedemiddag,\n\nZie onderstaande mail van onze klant. Polisnummer {polis}.",
        "Hallo,\n\nWij ontvingen onderstaande mail van {naam}. Kunnen jullie dit oppakken?",
    ),
    forward_notes_colleague=(
        "Deze kwam bij ons binnen, maar hoort volgens mij bij jullie.",
        "Ter behandeling doorgestuurd.",
        "Kunnen jullie hier iets mee? Klant belde er ook al over.",
        "Doorgestuurd vanuit de algemene mailbox.",
    ),
    forward_notes_self=(
        "Ik stuurde onderstaande mail al op {datum}, maar heb nog geen reactie gehad.",
        "Nogmaals mijn mail van {datum}.",
        "Zie hieronder, graag alsnog een reactie.",
    ),
    attachment_notes=(
        "Zie bijlage.",
        "In de bijlage vindt u de stukken.",
        "Ik heb {een scan|een foto|het document} bijgevoegd.",
    ),
    attachment_names={
        "schade": ("schadeformulier.pdf", "foto_schade.png", "factuur_garage.pdf", "IMG_0231.png"),
        "polis-wijzigen": ("kentekenbewijs.pdf", "wijzigingsformulier.docx"),
        "premie": ("betaalbewijs.pdf", "afschrift.png"),
        "klachten": ("klacht.docx", "brief.pdf"),
        "offertes": ("offerte_getekend.pdf", "aanvraagformulier.docx"),
        "opzeggingen": ("opzegbrief.docx", "vrijwaringsbewijs.pdf", "overlijdensakte.pdf"),
        "persoonsgegevens": ("kopie_id.png", "machtiging.pdf"),
        "algemeen": ("scan.pdf", "document.pdf", "screenshot.png"),
    },
    reply_prefixes=("Re: ", "RE: ", "Antw: ", "Re: ", "Reactie: "),
    forward_prefixes=("Doorst: ", "FW: ", "Fwd: ", "WG: ", "Fw: "),
)
