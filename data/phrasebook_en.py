"""English phrasebook of the demo corpus: expats and international customers writing to
Polderzeker. All sentences were written for this project; intents share vocabulary across
teams on purpose, as in the Dutch phrasebook.
"""

from __future__ import annotations

from data.phrasebook import Intent, Phrasebook, VagueMail
from data.slots import MONTHS_EN

_CLAIMS = (
    Intent(
        "collision",
        ("Car accident", "Claim: collision {datum}", "Damage to my car", "Accident report"),
        (
            "On {datum} my car, a {auto} with licence plate {kenteken}, was hit from behind by "
            "a {auto2} {at a traffic light in {plaats}|on the motorway|in a car park}.",
            "I would like to report damage to my {auto} ({kenteken}). While parking I "
            "{scraped a pole|hit another car|backed into a wall}.",
            "Someone hit my parked car last night and drove off. There is a big dent in the "
            "driver's door.",
        ),
        (
            "The European accident statement is attached.",
            "The other driver admitted liability.",
            "The garage estimates the repair at {bedrag}.",
            "Am I entitled to a replacement car while mine is being repaired?",
            "My policy number is {polis}.",
        ),
        weight=1.8,
    ),
    Intent(
        "water",
        ("Water damage", "Leak in the bathroom", "Damage to ceiling"),
        (
            "A leak {from the washing machine|from the upstairs neighbours|in the bathroom} "
            "caused water damage to {the ceiling|the wooden floor|the kitchen cabinets}.",
            "A water pipe burst {last night|over the weekend} and the carpet and some furniture "
            "are soaked.",
        ),
        (
            "A plumber has fixed the leak; his invoice of {bedrag_klein} is attached.",
            "Should I wait for a loss adjuster before replacing the floor?",
            "We live at {adres}, {postcode} {plaats}.",
        ),
    ),
    Intent(
        "theft",
        ("Burglary", "Theft", "Bike stolen", "Stolen items"),
        (
            "Our house was broken into {last night|on {datum}} and {a laptop and jewellery|two "
            "bikes from the shed|our TV} were stolen.",
            "My {e-bike|bicycle} was stolen at the station even though it was locked.",
        ),
        (
            "I reported it to the police; the report is attached.",
            "I still have both keys and the receipt.",
            "The total loss is around {bedrag}.",
        ),
    ),
    Intent(
        "status",
        ("Status of my claim", "Claim {claim}", "Any update on my claim?", "Question about claim"),
        (
            "I reported a claim on {datum} under number {claim}. Could you let me know the "
            "status?",
            "I have not heard anything about claim {claim} yet. When will the loss adjuster "
            "contact me?",
            "Has a decision been made on claim {claim}? The garage would like to start the "
            "repair.",
        ),
        ("I sent all the documents you asked for.", "You can reach me on {tel}."),
        weight=1.4,
    ),
    Intent(
        "payout",
        ("Claim payment", "Payout not received", "Payment for claim {claim}"),
        (
            "My claim {claim} was approved, but the amount of {bedrag} has not reached my "
            "account yet. When can I expect the payment?",
            "Your letter says you will pay {bedrag} for the damage. Please transfer it to "
            "{iban}.",
        ),
        ("I expected the deductible of {eigen_risico} to be subtracted.",),
    ),
    Intent(
        "travel",
        ("Claim travel insurance", "Stolen on holiday", "Medical costs abroad"),
        (
            "During our holiday in {land} {my suitcase|my phone|my camera} was stolen.",
            "I broke my arm on holiday in {land} and paid the hospital myself.",
        ),
        ("I kept all the receipts.", "The total is about {bedrag}."),
    ),
)

_POLICY = (
    Intent(
        "move",
        ("Moving house", "Move on {datum_toekomst}", "New address and home insurance"),
        (
            "We are moving to {adres_nieuw}, {postcode_nieuw} {plaats_nieuw} on "
            "{datum_toekomst}. Could you transfer our contents insurance to the new address?",
            "We bought a bigger house and move on {datum_toekomst}. Does the insured amount of "
            "our contents insurance need to go up?",
        ),
        ("Will the premium change?", "My policy number is {polis}."),
        weight=1.5,
    ),
    Intent(
        "new_car",
        ("New car", "Change of vehicle", "Replace car on policy"),
        (
            "I bought a {new|different} car, a {auto} with plate {kenteken}. Please move my car "
            "insurance {polis} to this car from {datum_toekomst}.",
            "I traded in my old car for a {auto}. Can the insurance move to the new car with "
            "the same cover?",
        ),
        ("The old car has been sold.", "I would like to keep my no-claims years."),
        weight=1.3,
    ),
    Intent(
        "cover",
        ("Change of cover", "Upgrade to comprehensive", "Lower deductible"),
        (
            "I would like to upgrade my car insurance {polis} from third party to "
            "{comprehensive|limited casco}.",
            "My car is {jaren} years old now; please change the cover to third party only to "
            "save on the premium.",
            "Could you raise the deductible on my {product} to {eigen_risico}?",
        ),
        ("What will the new monthly premium be?",),
    ),
    Intent(
        "household",
        ("Partner moving in", "Add driver", "Family cover"),
        (
            "My partner is moving in with me on {datum_toekomst}. Can my liability insurance be "
            "changed from single to family cover?",
            "My {son|daughter} just got a driving licence. Can {he|she} be added as a regular "
            "driver on policy {polis}?",
        ),
        ("How much extra will that cost?",),
    ),
)

_BILLING = (
    Intent(
        "increase",
        ("Premium increase", "Question about my premium", "Why is my premium higher?"),
        (
            "Why did my monthly premium go up from {premie_oud} to {premie_nieuw}? I have not "
            "made any claims.",
            "My {product} premium increased by {procent} this year. Could you explain why?",
        ),
        ("Is there any way to lower it?", "My customer number is {relatie}."),
        weight=1.4,
    ),
    Intent(
        "debit",
        ("Double direct debit", "Charged twice", "Unknown debit"),
        (
            "{premie_bedrag} was debited twice from my account this month for policy {polis}. "
            "Please refund the extra payment.",
            "There is a direct debit of {premie_nieuw} from Polderzeker on my statement that I "
            "do not recognise.",
        ),
        ("My account is {iban}.", "A screenshot of my bank statement is attached."),
        weight=1.2,
    ),
    Intent(
        "reminder",
        ("Payment reminder", "I already paid", "Invoice {factuur}"),
        (
            "I received a reminder for {premie_bedrag}, but I paid this on {datum}.",
            "The direct debit for {maand} failed because of my bank. To which account can I "
            "transfer the {premie_bedrag} manually?",
            "Can I pay the premium yearly instead of monthly? Is there a discount?",
        ),
        ("Proof of payment is attached.", "I do not want my cover suspended."),
    ),
    Intent(
        "refund",
        ("Premium refund", "Refund after cancellation"),
        (
            "After my {product} ended I was supposed to get {bedrag_klein} of premium back, but "
            "I have not received it.",
        ),
        ("Please transfer it to {iban}.",),
        weight=0.6,
    ),
)

_COMPLAINTS = (
    Intent(
        "slow",
        ("Complaint", "Formal complaint", "Still no answer!", "Complaint about claim {claim}"),
        (
            "I am extremely unhappy with how my claim {claim} is being handled. I reported it "
            "{weken} weeks ago and nobody has come back to me.",
            "This is the {third|fourth} time I am writing about claim {claim}. Promises to call "
            "me back are not kept. This is unacceptable.",
        ),
        (
            "If I do not hear from you within a week I will cancel all my policies.",
            "I am considering taking this to Kifid.",
            "I expect an apology and a concrete date.",
        ),
        weight=1.6,
    ),
    Intent(
        "service",
        ("Complaint about your service", "Rude treatment", "Impossible to reach you"),
        (
            "The person I spoke to on the phone {today|yesterday} was rude and simply hung up.",
            "I have been trying to call you for days, but I wait half an hour and then the line "
            "drops.",
        ),
        ("This is no way to treat customers.",),
    ),
    Intent(
        "objection",
        ("Objection to rejected claim", "I disagree with your decision"),
        (
            "I strongly disagree with the rejection of claim {claim} and hereby formally object "
            "to your decision.",
            "You keep charging premium for a policy I cancelled in {datum2}. I want the money "
            "back immediately.",
            "Your premium went up by {procent} without any explanation. That is outrageous for "
            "a loyal customer.",
        ),
        ("If nothing changes I will switch insurers.", "I want this registered as a complaint."),
    ),
)

_QUOTES = (
    Intent(
        "car",
        ("Quote car insurance", "Request for quote", "Car insurance for expat"),
        (
            "Could you give me a quote for car insurance for a {auto} from {bouwjaar}? I have "
            "{jaren} no-claims years from my home country.",
            "I recently moved to the Netherlands and need car insurance for my {auto}. What "
            "would the premium be for comprehensive cover?",
        ),
        ("I drive about {km} km a year.", "I live in {plaats}."),
        weight=1.4,
    ),
    Intent(
        "home",
        ("Quote home insurance", "Insurance for new apartment", "Contents insurance"),
        (
            "We are buying a house at {adres_nieuw} in {plaats_nieuw} and need home insurance "
            "from {datum_toekomst}. Could you make us a quote?",
            "I am renting my first apartment here and need contents and liability insurance. "
            "What would that cost?",
        ),
        ("I do not have any policies with you yet.",),
        weight=1.2,
    ),
    Intent(
        "switch",
        ("Switching insurer", "Travel insurance", "Quote {offerte}"),
        (
            "I am with another insurer and pay {premie_bedrag} a month. Can you beat that?",
            "We are going to {land} {this summer|in {maand}}. Can I take out annual travel "
            "insurance with you?",
            "Thank you for quote {offerte}. I would like to accept it; what do I need to do?",
        ),
        ("Could you also handle cancelling my current policy?",),
    ),
)

_CANCELLATIONS = (
    Intent(
        "car_sold",
        ("Cancel car insurance", "Car sold", "Termination of policy {polis}"),
        (
            "I sold my {auto} ({kenteken}) on {datum}. Please end the car insurance {polis} "
            "from that date.",
            "My car was written off and scrapped; the indemnification certificate is attached. "
            "Please stop the insurance.",
        ),
        ("Please send me a statement of my no-claims years.",),
        weight=1.4,
    ),
    Intent(
        "leaving",
        ("Cancellation", "Leaving the Netherlands", "Cancel my policies"),
        (
            "I am moving back to {land} on {datum_toekomst} and would like to cancel all my "
            "policies with you.",
            "I hereby cancel my {product}, policy {polis}, as of {datum_toekomst}. I have found "
            "a cheaper insurer.",
            "Because of the premium increase to {premie_nieuw} I have decided not to renew my "
            "{product}.",
        ),
        ("Please confirm the cancellation in writing.",),
        weight=1.5,
    ),
    Intent(
        "confirm",
        ("Confirmation of cancellation", "Was my cancellation processed?"),
        (
            "I cancelled my {product} on {datum} but have not received a confirmation. Could "
            "you confirm it has been processed?",
        ),
        ("My new insurer is asking for proof.",),
        weight=0.7,
    ),
)

_PERSONAL = (
    Intent(
        "address",
        ("Change of address", "New address", "Address update"),
        (
            "My address has changed. My new address is {adres_nieuw}, {postcode_nieuw} "
            "{plaats_nieuw}.",
            "Could you update my address? From {datum_toekomst} I live at {adres_nieuw}, "
            "{plaats_nieuw}. I only have car insurance with you.",
        ),
        ("My policy number is {polis}.",),
        weight=1.4,
    ),
    Intent(
        "bank",
        ("New bank account", "Change of IBAN", "Update bank details"),
        (
            "I have a new bank account: {iban_nieuw}. Please collect the premium from this "
            "account from now on.",
            "Please change my bank account from {iban} to {iban_nieuw} for all policies.",
        ),
        ("The old account will be closed on {datum_toekomst}.",),
        weight=1.2,
    ),
    Intent(
        "contact",
        ("New e-mail address", "New phone number", "GDPR request"),
        (
            "My e-mail address has changed; please use {email_nieuw} from now on.",
            "My phone number is now {tel_nieuw}.",
            "Under the GDPR I would like to see all personal data you hold about me.",
            "My surname is misspelled in your records; it should be {achternaam}.",
        ),
        ("The old address is no longer read.",),
    ),
)

_GENERAL = (
    Intent(
        "login",
        ("Cannot log in", "Problem with the app", "Password reset"),
        (
            "I cannot log in to Mijn Polderzeker; it says my details are incorrect.",
            "I requested a new password but the e-mail never arrives.",
            "Is there an English version of Mijn Polderzeker? I do not understand the Dutch "
            "menus.",
        ),
        ("I use an {iPhone|Android phone|laptop}.",),
    ),
    Intent(
        "documents",
        ("Copy of policy", "Green card", "Proof of insurance", "Policy conditions"),
        (
            "Could you send me a copy of the policy schedule for {polis}?",
            "I need a green card for our trip to {land}. Could you e-mail it?",
            "Are the policy conditions of my {product} available in English?",
        ),
        ("E-mail is fine.",),
        weight=1.3,
    ),
    Intent(
        "question",
        ("Question", "Am I covered?", "Call back request", "Is this e-mail genuine?"),
        (
            "Am I covered when I drive a rental car abroad? Nothing has happened, I just want "
            "to know.",
            "Could you call me back on {tel}? I have a question about my insurance.",
            "I received an e-mail that claims to be from Polderzeker asking me to confirm my "
            "bank details via a link. Is it genuine?",
            "What are your opening hours?",
        ),
        ("Thanks in advance.",),
        weight=1.2,
    ),
)

PHRASEBOOK = Phrasebook(
    language="en",
    months=MONTHS_EN,
    weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    greetings_formal=("Dear Sir or Madam,", "Dear {aanhef},", "To whom it may concern,"),
    greetings_informal=("Hello,", "Hi,", "Good afternoon,", "Good morning,", "Dear Polderzeker,"),
    preambles=(
        "I have been a customer for {jaren} years.",
        "My policy number is {polis}.",
        "Sorry for writing in English, my Dutch is not good enough yet.",
        "I called your customer service earlier today and was asked to send an e-mail.",
        "I am writing on behalf of my {wife|husband|mother}.",
        "I have several policies with you.",
    ),
    fillers=(
        "I find the Dutch insurance system quite confusing, to be honest.",
        "I tried to do this in the app but could not find the right option.",
        "Work has been very busy, which is why I am only writing now.",
        "A colleague told me I should report this just to be safe.",
        "I am not sure if I am writing to the right department.",
        "Please let me know if I have missed something.",
        "I would prefer to handle this by e-mail, calling during the day is difficult.",
    ),
    closings=(
        "Thanks in advance.",
        "I look forward to hearing from you.",
        "Please let me know.",
        "Thank you for your help.",
        "Kind regards and thanks.",
    ),
    signoffs=("Kind regards,", "Best regards,", "Regards,", "Best,", "Many thanks,", "Cheers,"),
    device_signatures=("Sent from my iPhone", "Sent from my Galaxy", "Get Outlook for Android"),
    disclaimers=(
        "This e-mail is intended only for the addressee. If you received it by mistake, please "
        "tell the sender and delete it.",
    ),
    generic_subjects=(
        "Question",
        "Policy {polis}",
        "My insurance",
        "Information",
        "Request",
        "Urgent",
        "Help please",
        "",
    ),
    intents={
        "schade": _CLAIMS,
        "polis-wijzigen": _POLICY,
        "premie": _BILLING,
        "klachten": _COMPLAINTS,
        "offertes": _QUOTES,
        "opzeggingen": _CANCELLATIONS,
        "persoonsgegevens": _PERSONAL,
        "algemeen": _GENERAL,
    },
    mentions={
        "schade": ("By the way, my claim {claim} has still not been settled.",),
        "polis-wijzigen": ("I will also need to add a second driver to my policy soon.",),
        "premie": ("I also noticed that the premium went up again.",),
        "klachten": ("Frankly, I am not happy with how long everything takes.",),
        "offertes": ("Separately, could you send me a quote for travel insurance?",),
        "opzeggingen": ("My travel insurance can be cancelled, I no longer need it.",),
        "persoonsgegevens": (
            "PS: my phone number has changed to {tel_nieuw}.",
            "You already have my new address, I sent it last month.",
        ),
        "algemeen": (
            "PS: I also cannot log in to Mijn Polderzeker.",
            "I read your policy conditions but did not get much wiser.",
        ),
    },
    confounders={
        "schade": (
            "Will this make my premium go up?",
            "I do not want to cancel, but I would like this handled properly.",
            "I have been waiting {weken} weeks and called twice already.",
            "The money can go to {iban}.",
        ),
        "polis-wijzigen": (
            "I do not want to cancel the insurance, just change it.",
            "What will the new monthly premium be?",
            "Do I need a new quote for this or can it go on the current policy?",
        ),
        "premie": (
            "I do not want to cancel right away, but this is getting expensive.",
            "I did not make any claims last year.",
            "I am not angry, I just want to understand it.",
        ),
        "klachten": (
            "It concerns my {product}, policy {polis}.",
            "The damage itself has been repaired, that is not the point.",
            "I pay my premium on time every month.",
        ),
        "offertes": (
            "I would cancel my current insurance myself.",
            "My current insurer just raised the premium by {procent}.",
            "I had one claim in the last five years.",
        ),
        "opzeggingen": (
            "I have no complaints about your service.",
            "There are no open claims.",
            "I do not want to change the policy, I really want to end it.",
        ),
        "persoonsgegevens": (
            "Nothing needs to change on the policies themselves.",
            "I have no claim, it is only about my details.",
            "I do not want to cancel anything.",
        ),
        "algemeen": (
            "Nothing has happened, I just want to know.",
            "I do not want to change my policy.",
            "I am not planning to cancel.",
        ),
    },
    background_wrappers=(
        'Earlier I wrote to you: "{earlier}" That has been sorted out, thank you.',
        "Last month I e-mailed you about the following: {earlier} That was handled.",
        "Following up on my previous e-mail ({earlier}), I have another question.",
        "My {wife|husband|partner} already told you: {earlier} That is solved now.",
    ),
    request_markers=("Now I have a different question.", "Today's question:", "", ""),
    switch_openers=(
        "Different topic:",
        "Something else:",
        "I am replying to this old e-mail because I could not find your address.",
        "",
    ),
    vague=(
        VagueMail(("schade", "offertes", "polis-wijzigen"), "Photos",
                  "Please see the attached photos."),
        VagueMail(("schade", "polis-wijzigen", "opzeggingen", "persoonsgegevens"), "Documents",
                  "See attachment."),
        VagueMail(("offertes", "opzeggingen", "polis-wijzigen"), "Signed",
                  "Signed form attached."),
        VagueMail(("opzeggingen", "klachten", "premie"), "Letter",
                  "Please find my letter attached."),
        VagueMail(("persoonsgegevens", "opzeggingen", "offertes", "schade"), "Form",
                  "See attached form."),
        VagueMail(("algemeen", "klachten", "schade", "premie"), "Call me",
                  "Please call me back on {tel}."),
        VagueMail(("premie", "schade"), "Payment", "Proof of payment attached."),
    ),
    reply_lines={
        "schade": ("Attached are the photos of the damage.", "When will the amount be paid?"),
        "polis-wijzigen": ("The change can start on {datum_toekomst}.",),
        "premie": ("Proof of payment is attached.", "So when will the refund arrive?"),
        "klachten": ("This answer is not good enough.", "I am still waiting for a solution."),
        "offertes": ("I accept the quote.", "Could you also quote comprehensive cover?"),
        "opzeggingen": ("Please confirm the end date.",),
        "persoonsgegevens": ("Yes, the new account is {iban_nieuw}.",),
        "algemeen": ("It works now, thank you!", "It still does not work."),
    },
    generic_reply_lines=(
        "Thank you for your quick reply.",
        "See attachment.",
        "I still have not heard anything, could you give me an update?",
        "Fine, I will wait.",
        "I do not quite understand your answer. What should I do now?",
    ),
    followups=(
        "I have not had a reply to the e-mail below.",
        "Please respond to my e-mail below.",
        "One addition to my previous e-mail: it concerns policy {polis}.",
    ),
    insurer_answers={
        "schade": (
            "Thank you for your claim. We registered it under number {claim}. Could you send "
            "us photos of the damage and the repair quote?",
            "Your claim has been approved. We will transfer {bedrag}, minus the deductible, "
            "within ten working days.",
        ),
        "polis-wijzigen": (
            "Thank you for letting us know. Before we change your policy we need the start "
            "date.",
        ),
        "premie": (
            "We have checked the double debit and will refund {premie_bedrag} within five "
            "working days.",
        ),
        "klachten": (
            "We are sorry to hear you are dissatisfied. Your complaint has been registered and "
            "will be handled within ten working days.",
        ),
        "offertes": ("Thank you for your interest. Please find quote {offerte} attached.",),
        "opzeggingen": (
            "We have received your cancellation. Could you send us the proof of sale?",
        ),
        "persoonsgegevens": ("We have updated your details. Please check that they are correct.",),
        "algemeen": ("Thank you for your message. You can arrange this in Mijn Polderzeker.",),
    },
    insurer_signoffs=(
        "Kind regards,\n\n{medewerker}\nCustomer Service Polderzeker\nT +31 88 000 1234",
        "Kind regards,\n{medewerker} | Polderzeker",
    ),
    forward_notes_broker=(
        "Dear colleagues,\n\nPlease see the message below from our client {naam}. Could you "
        "take care of this?",
    ),
    forward_notes_colleague=(
        "This came in with us but I think it is for you.",
        "Forwarding for handling.",
    ),
    forward_notes_self=(
        "I sent the e-mail below on {datum} and have had no reply.",
        "Resending my e-mail of {datum}.",
    ),
    attachment_notes=("See attached.", "Please find the documents attached."),
    attachment_names={
        "schade": ("claim_form.pdf", "photo_damage.png", "garage_invoice.pdf"),
        "polis-wijzigen": ("registration.pdf",),
        "premie": ("bank_statement.png", "proof_of_payment.pdf"),
        "klachten": ("complaint.docx",),
        "offertes": ("signed_quote.pdf",),
        "opzeggingen": ("cancellation_letter.docx", "proof_of_sale.pdf"),
        "persoonsgegevens": ("passport_copy.png",),
        "algemeen": ("screenshot.png",),
    },
    reply_prefixes=("Re: ", "RE: "),
    forward_prefixes=("Fwd: ", "FW: "),
)
