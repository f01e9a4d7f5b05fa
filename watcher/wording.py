"""How machines word their mail: bounce, delay and auto-reply phrases, in many languages.

Pure regular expressions and two small helpers; watcher/classify.py and watcher/body_signals.py
decide what the matches mean. The phrases follow what the software itself writes (written
after the pattern, never copied from a mail file):

- Postfix: bounce(5) templates (`postconf -b`, bounce.cf.default): "This is the mail system at
  host", "I'm sorry to have to inform you that your message could not be delivered", the delay
  template's "THIS IS A WARNING ONLY. YOU DO NOT NEED TO RESEND YOUR MESSAGE" and "It will be
  retried until it is N days old", subject "Delayed Mail (still being retried)".
- Exim: deliver.c / exim.conf warn_message: "Mail delivery failed: returning message to
  sender", "This message was created automatically by mail delivery software", "This is a
  permanent error", "has not yet been delivered to one or more of its recipients after more
  than N hours on the queue", "No action is required on your part", subject "Warning: message
  <id> delayed N hours".
- Sendmail: "Returned mail: see transcript for details", "The following addresses had permanent
  fatal errors", "Warning: could not send message for past 4 hours", "Will keep trying until
  message is 5 days old".
- qmail: "Hi. This is the qmail-send program at", "I'm afraid I wasn't able to deliver your
  message", "This is a permanent error; I've given up". qmail sends no delay warnings.
- OpenSMTPD (bounce.c): "This is the MAILER-DAEMON, please DO NOT REPLY", "An error has
  occurred while attempting to deliver a message", "Delays have been reported during the
  delivery of your message", subject "Delivery status notification: delay|error".
- Microsoft Exchange / 365: "Delivery has failed to these recipients or groups", "Your message
  to X couldn't be delivered", "Delivery is delayed to these recipients or groups", "This
  message hasn't been delivered yet. Delivery will continue to be attempted", subjects
  "Undeliverable:", "Delivery delayed:", "Delivery Status Notification (Delay)".
- HCL/Lotus Domino: "DELIVERY FAILURE: User x not listed in Domino Directory", "Delivery
  Notification: Delay" reports (HCL Domino admin help, "Defining when to send transfer and
  delivery Delay reports"); out-of-office subjects "<Name> is out of the office." and their
  translations.
- Mail-security gateways (Mimecast, Proofpoint, Cisco, Barracuda style): "[Delayed]" tags,
  "message delayed", "held in queue", "Mail Delivery Failure" notices from gateway addresses.
- Vacation responders: Exchange/Outlook "Automatic reply:", Gmail, Sieve vacation, and the
  usual wording of absence notices in de/fr/es/it/nl/pt/ja (and subjects in more languages).
"""

from __future__ import annotations

import re


def flat(text: str) -> str:
    """Whitespace collapsed to single spaces: MTAs wrap their sentences anywhere."""
    return " ".join((text or "").split())


# --- delivery delays: "not delivered yet, still trying" ----------------------------------------

# Subjects of delay warnings. Searched anywhere (gateways prefix tags like "[EXT]"), but never
# behind a person's reply prefix: classify checks that.
DELAY_SUBJECT = re.compile(
    r"delivery status notification\s*\(delay\)"
    r"|delivery status notification:\s*(?:delay|warning)"
    r"|delivery notification:\s*delay"
    r"|delivery delay(?:ed)?\s*(?:notification|report)?\s*:"
    r"|delayed delivery\b|(?:message )?delivery delay\b"
    r"|warning:\s*(?:message\b.{0,60}\bdelayed|could not send message for past)"
    r"|delayed mail\b"
    r"|(?:mail\s+)?delivery (?:has been |is )?delayed\b"
    r"|message (?:delivery )?delayed\b"
    r"|\[delayed\]|\(delayed\)"
    r"|delivery incomplete\b"
    r"|still being retried"
    r"|warnung:\s*(?:zustellung|nachricht)\s+verz[öo]gert|zustellung verz[öo]gert"
    r"|verz[öo]gerte zustellung"
    r"|remise (?:différée|retardée)|retard de (?:remise|distribution)|distribution différée"
    r"|entrega (?:retrasada|demorada|atrasada)|retraso en la entrega|atraso na entrega"
    r"|bezorging vertraagd|vertraagde bezorging|levering vertraagd"
    r"|recapito (?:ritardato|in ritardo)|consegna ritardata|ritardo (?:nel|di) recapito"
    r"|配信遅延|配信の遅延|送信遅延",
    re.IGNORECASE,
)

# Body wording that says the server is still trying. Matched against `flat()` text.
DELAY_TEXT = re.compile(
    r"this is a warning (?:message )?only"
    r"|you do not need to resend (?:your|the) message"
    r"|(?:it|the message) will be retried until"
    r"|will (?:continue|keep) (?:to )?try(?:ing)?"
    r"|delivery (?:attempts )?will continue"
    r"|will continue to be attempted"
    r"|has not yet been delivered to"
    r"|hasn't been delivered yet|has not been delivered yet|not yet been delivered"
    r"|still undelivered after"
    r"|delivery (?:to the following recipients? )?(?:is|has been) delayed"
    r"|delays have been reported during the delivery"
    r"|zustellung an (?:diese|folgende) empfänger.{0,40}verzögert"
    r"|la remise (?:est retardée|a été retardée)|la entrega (?:se ha retrasado|está retrasada)"
    r"|bezorging (?:is )?vertraagd|vertraging bij (?:de )?bezorging"
    r"|il recapito .{0,60}è in ritardo|a entrega .{0,60}está atrasada"
    r"|no action is required on your part"
    r"|message (?:is )?(?:still )?(?:in|held in) (?:the )?queue"
    r"|will retry (?:for|until|delivery)|retry for(?: another)? \d+"
    r"|temporary problem delivering your message"
    r"|dies ist (?:nur )?eine warnung|die zustellung wird (?:weiterhin )?(?:weiter )?versucht"
    r"|sie müssen (?:die|ihre) nachricht nicht erneut senden|noch nicht zugestellt"
    r"|ceci est (?:seulement |uniquement )?un avertissement"
    r"|vous n'avez pas (?:besoin )?de renvoyer|pas encore été (?:remis|distribué)"
    r"|nouvelles? tentatives? (?:de remise|de distribution)"
    r"|esto es (?:solo|sólo) una advertencia|no es necesario que (?:vuelva|reenv)"
    r"|todavía no se ha entregado|se seguirá intentando"
    r"|dit is (?:alleen|slechts) een waarschuwing|u hoeft uw bericht niet opnieuw"
    r"|nog niet (?:afgeleverd|bezorgd)"
    r"|questo è solo un avviso|non è necessario (?:inviare|rinviare)|non è ancora stato recapitato"
    r"|este é apenas um aviso|não é necessário reenviar|ainda não foi entregue"
    r"|再送(?:信)?の必要はありません|配信を再試行|まだ配信されていません",
    re.IGNORECASE,
)

# --- final failures ------------------------------------------------------------------------

# Failure subjects: never enough alone (a person may write "Returned mail: ..." on purpose).
BOUNCE_SUBJECT = re.compile(
    r"undeliverable\b"
    r"|undelivered mail returned to sender"
    r"|delivery status notification\s*\(failure\)"
    r"|delivery status notification:\s*(?:error|failure)"
    r"|mail delivery failed"
    r"|returned mail\s*:"
    r"|failure notice\b"
    r"|delivery failure\b"
    r"|delivery (?:has )?failed\b"
    r"|mail delivery (?:system|subsystem|failure)\b"
    r"|message not delivered|undelivered message|non[- ]?delivery (?:report|notification)"
    r"|unzustellbar|nicht zustellbar|zustellung fehlgeschlagen|unzustellbare nachricht"
    r"|(?:konnte )?nicht zugestellt werden|n'a pas pu être (?:remis|distribué)"
    r"|no se (?:pudo|ha podido) entregar|kon niet (?:worden )?bezorgd"
    r"|non (?:è stato|può essere) recapitato|não (?:foi|pôde ser) entregue"
    r"|non remis|non distribuable|échec de (?:la )?(?:remise|distribution)|message non délivré"
    r"|no se puede entregar|no entregado|error de entrega|fallo en la entrega"
    r"|onbestelbaar|niet bezorgd|bezorging mislukt"
    r"|non recapitabile|mancato recapito|recapito non riuscito"
    r"|não entregue|falha na entrega|mensagem não entregue"
    r"|配信不能|配信エラー|送信エラー|不達|未達",
    re.IGNORECASE,
)

# Body wording of a final failure (flat text). Phrases an MTA writes, not a person's.
FAILURE_TEXT = re.compile(
    r"i'm sorry to have to inform you that your message could not be delivered"
    r"|this message was created automatically by mail delivery software"
    r"|could not be delivered to one or more of its recipients"
    r"|the following address(?:\(es\)|es)? failed"
    r"|the following addresses had permanent fatal errors"
    r"|this is the qmail-send program"
    r"|i wasn't able to deliver your message"
    r"|this is the mailer-daemon, please do not reply"
    r"|an error has occurred while attempting to deliver (?:a|your) message"
    r"|delivery has failed to these recipients or groups"
    r"|there was a problem delivering your message"
    r"|could not be delivered to the following recipients?"
    r"|(?:was|is) undeliverable to the following"
    r"|had permanent fatal delivery errors"
    r"|your (?:message|mail|document)(?: to \S+)? (?:was not|wasn't|cannot be|can't be) delivered"
    r"|(?:message|mail) (?:you sent )?(?:to \S+ )?was rejected by"
    r"|delivery failure report"
    r"|zustellung an (?:folgende|diese) empfänger.{0,40}fehlgeschlagen"
    r"|la remise a échoué|error en la entrega a estos|bezorging is mislukt"
    r"|recapito non riuscito|falha na entrega a estes"
    r"|your message to \S+ couldn't be delivered"
    r"|your message (?:wasn't|was not|couldn't be|could not be) delivered(?! for\b)"
    r"|delivery to the following recipients? failed"
    r"|unable to deliver (?:your )?message to the following"
    r"|we were unable to deliver your message"
    r"|address not found\b.{0,80}wasn't delivered"
    r"|delivery failure: user \S+ (?:\(.{1,60}\) )?not listed"
    r"|not listed in (?:the )?(?:domino|public) (?:directory|address book)"
    r"|(?:ihre|die) nachricht (?:an .{1,80} )?konnte nicht zugestellt werden"
    r"|konnte (?:die nachricht )?nicht (?:an .{1,80} )?zugestellt werden"
    r"|votre message n'a pas pu être (?:remis|distribué|délivré)"
    r"|n'a pas pu être (?:remis|distribué) (?:aux?|à)"
    r"|(?:su|tu) mensaje no (?:se )?(?:pudo|ha podido) (?:ser )?entregar"
    r"|no se ha podido entregar|no se pudo entregar"
    r"|uw bericht (?:kon|is) niet (?:worden )?(?:bezorgd|afgeleverd)"
    r"|kon niet worden (?:bezorgd|afgeleverd)"
    r"|non è stato possibile recapitare|impossibile recapitare il messaggio"
    r"|(?:sua )?mensagem não (?:pôde|pode) ser entregue"
    r"|配信できませんでした|送信できませんでした|届けることができませんでした",
    re.IGNORECASE,
)

# Delivery (or relay) confirmations: reports, but no failure ("Your message was successfully
# delivered", Postfix success_template; Exchange "Delivery to these recipients or groups is
# complete").
SUCCESS_TEXT = re.compile(
    r"(?:was|has been) successfully delivered|successfully delivered to"
    r"|delivery to (?:these|the following) recipients? (?:or groups )?(?:is complete|succeeded)"
    r"|your message has been delivered to|was relayed to|no delivery notification was sent"
    r"|erfolgreich zugestellt|a bien été (?:remis|distribué)|se entregó correctamente"
    r"|is (?:succesvol|met succes) (?:bezorgd|afgeleverd)|recapitato correttamente"
    r"|entregue com sucesso",
    re.IGNORECASE,
)

# Words that make a failure final even where delay wording appears too.
PERMANENT_TEXT = re.compile(
    r"permanent (?:fatal )?error|failed permanently|permanently failed|permanent failure"
    r"|i've given up|has given up|gave up|delivery has failed"
    r"|dauerhafter fehler|endgültig fehlgeschlagen|erreur permanente|échec définitif"
    r"|error permanente|permanente fout|errore permanente|erro permanente|恒久的なエラー",
    re.IGNORECASE,
)

# An SMTP reply or enhanced status code as bounces quote them: "550 5.1.1", "5.2.2", "554".
SMTP_CODE = re.compile(r"(?<![\d.])(?:[45]\d\d[ -](?:#?[45]\.\d{1,3}\.\d{1,3})?|[45]\.\d\.\d{1,3})")

# Senders that are software, not people (local part, without "+tag"). Broad on purpose: a
# sender alone never decides anything, it only backs up what the text says.
SYSTEM_LOCALPART = re.compile(
    r"^(?:mailer-?daemon|mail-?daemon|postmaster(?:[-.].*)?|mail[-._]?delivery(?:[-._].*)?"
    r"|bounces?(?:[-._+].*)?|no[-_.]?reply(?:[-._].*)?|do[-_.]?not[-_.]?reply|donotreply"
    r"|mailer|mail[-_.]?(?:gateway|gw|admin|system|server|robot)|gateway|mailgw|smtp(?:[-.].*)?"
    r"|mta\d*|quarantine|mail[-_.]?security|postoffice|daemon|nobody|root"
    r"|auto[-_.]?(?:reply|responder|response)|vacation|notifications?|notify)$",
    re.IGNORECASE,
)
SYSTEM_NAME = re.compile(
    r"mail delivery (?:system|subsystem|service)|mailer[- ]daemon|postmaster"
    r"|mail (?:administrator|gateway|system)|system administrator|microsoft outlook"
    r"|e-?mail-?(?:zustellsystem|system)|système de (?:remise|messagerie)"
    r"|sistema de (?:correo|entrega)|mail delivery",
    re.IGNORECASE,
)


def system_sender(address: str, name: str = "") -> bool:
    """Does the sender look like software (postmaster-like, no-reply, a gateway)?"""
    local = (address or "").rpartition("@")[0].split("+", 1)[0]
    return bool(SYSTEM_LOCALPART.match(local)) or bool(SYSTEM_NAME.search(name or ""))


# --- automatic replies -----------------------------------------------------------------------

# Markers of an automatic reply, as words (used at the start, in brackets, or after a tag).
_AUTO_WORDS = (
    r"auto(?:matic|matische|matisk|matiskt|mated)?[\s_-]?"
    r"(?:reply|replies|response|responder|antwort|svar|answer)"
    r"|autoreply|auto-?response"
    r"|out\s+of\s+(?:the\s+)?office(?:\s+(?:auto[\s-]?reply|reply|notice|notification))?"
    r"|ooo|oof"
    r"|abwesenheitsnotiz|abwesenheit(?:smeldung|snachricht)?|automatische antwort"
    r"|réponse automatique|reponse automatique|absence|absent(?:e)?(?: du bureau)?"
    r"|respuesta automática|respuesta automatica|fuera de (?:la )?oficina|ausente|ausencia"
    r"|automatisch antwoord|afwezig(?:heid(?:smelding)?)?"
    r"|risposta automatica|fuori (?:sede|ufficio)|assente|assenza"
    r"|resposta automática|resposta automatica|ausência|fora do escritório"
    r"|automatyczna odpowiedź|nieobecność|automatická odpověď|nepřítomnost"
    r"|automaattinen vastaus|automatikus válasz|otomatik yan\u0131t"
    r"|автоматический ответ|автоответ|отсутствую"
    r"|αυτόματη απάντηση|מענה אוטומטי|رد تلقائي|răspuns automat|automatski odgovor"
    r"|自動応答|自動返信|自动回复|自動回覆|自動回复|不在(?:通知|のお知らせ)?"
    r"|자동\s*회신|자동\s*응답|부재중"
)
# "[Auto-Reply]", "(Out of Office)", "{Abwesenheitsnotiz}", "【自動返信】" anywhere in a subject.
BRACKETED_AUTO = re.compile(
    r"[\[(\{【\uff3b]\s*(?:" + _AUTO_WORDS + r")\s*[:\-]?\s*[\])\}】\uff3d]",
    re.IGNORECASE,
)
# Tags gateways and ticket systems put before a subject: "[EXTERNAL]", "*EXT*", "[SPAM?]",
# "[Ticket #123]", "WG:"/"Fwd:" (a forward of the auto-reply is still machine mail).
SUBJECT_TAG = re.compile(
    r"^\s*(?:(?:\[[^\]]{1,40}\]|\*{1,3}[^*]{1,30}\*{1,3}|\([^)]{1,30}\))\s*)+",
    re.IGNORECASE,
)
# Reply prefixes a person's mail client writes (Re:, AW:, SV:, Antw:, R:, Re[2]:, 回复: ...).
REPLY_PREFIX = re.compile(
    r"^\s*(?:re|aw|sv|vs|antw|antwort|r|rif|odp|ynt|atb|vá|отв|ответ|відп|απ|回复|回覆|答复)"
    r"\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:\uff1a]",
    re.IGNORECASE,
)
# Out-of-office / automatic-reply subjects at the (tag-stripped) start, many vendors and
# languages: "Automatic reply: ...", "Abwesenheitsnotiz: ...", "OOO - ...".
OOO_SUBJECT = re.compile(
    r"^\s*(?:"
    r"auto(?:matic|matische|matisk|matiskt)?[\s_-]?(?:reply|response|responder|antwort|svar)"
    r"|out\s+of\s+(?:the\s+)?office(?:\s+(?:auto[\s-]?reply|reply))?"
    r"|ooo|oof"
    r"|abwesenheitsnotiz|abwesenheit|abwesend"
    r"|réponse automatique|reponse automatique|absent\(?e?\)? du bureau"
    r"|respuesta automática|respuesta automatica|fuera de la oficina"
    r"|automatisch antwoord|afwezig"
    r"|resposta automática|resposta automatica|ausente do escritório"
    r"|risposta automatica|fuori sede"
    r"|automatyczna odpowiedź|automatická odpověď|automaattinen vastaus|automatikus válasz"
    r"|otomatik yan\u0131t|автоматический ответ|автоответ"
    r"|αυτόματη απάντηση|מענה אוטומטי|رد تلقائي|răspuns automat|automatski odgovor"
    r"|automatická odpoveď|balasan otomatis|tự động trả lời"
    r"|自動応答|自動返信|自动回复|自動回覆|自動回复|자동\s*회신|자동\s*응답"
    r"|away from (?:the |my )?office|on (?:annual |parental )?leave|vacation (?:reply|response)"
    r"|(?:i am|i'm) (?:currently )?(?:out of (?:the )?office|away|on vacation)"
    r"|afwezigheidsmelding|afwezig|congés|férias|ausencia|不在(?:のお知らせ|通知)?|休暇"
    r")\s*(?:[:\uff1a]|\s*$|\s*[-\u2013]\s*(?:re\s*:\s*)?)",
    re.IGNORECASE,
)
# RFC 3834 suggests "Auto:"; alone it is too common a word, so only with In-Reply-To.
AUTO_PREFIX = re.compile(r"^\s*auto\s*:", re.IGNORECASE)
# Lotus Notes / Domino absence subjects: "Jane Doe is out of the office.", "Max Muster ist
# außer Haus.", "Jean Dupont est absent(e).", and translations; the name may carry "/ACME".
LOTUS_OOO = re.compile(
    r"^[^:]{1,80}?\s(?:is out of the office|will be out of the office"
    r"|ist (?:außer haus|nicht im büro|abwesend)"
    r"|est (?:absent\(?e?\)?|absente?)(?: du bureau)?"
    r"|está (?:fuera de la oficina|ausente)|is afwezig|è (?:fuori (?:sede|ufficio)|assente)"
    r"|está (?:fora do escritório|ausente))"
    r"(?:\s*(?:\(|from |vom |du |del |van |dal |de ).*)?\.?\s*$",
    re.IGNORECASE,
)

# Body wording of an absence notice (flat text). Two kinds: saying one is away, and the
# phrases only a template uses (limited access, on my return, urgent matters, automatic).
ABSENCE_TEXT = re.compile(
    r"\b(?:i am|i'm|i will be|i'll be) (?:currently |now )?(?:out of (?:the )?office"
    r"|away from (?:the |my )?(?:office|desk)|on (?:annual |parental |sick )?leave|on vacation"
    r"|on holiday|out of the country|travelling|traveling|away)"
    r"|ich bin (?:derzeit |zurzeit |momentan |vom .{1,30} |bis .{1,30} )?(?:nicht im büro|abwesend"
    r"|im urlaub|außer haus|nicht erreichbar)"
    r"|je suis (?:actuellement |absent|en congés?|en vacances|hors du bureau)"
    r"|estoy (?:actualmente )?(?:fuera de la oficina|de vacaciones|ausente)"
    r"|ik ben (?:momenteel |op dit moment )?(?:afwezig|op vakantie|niet op kantoor)"
    r"|sono (?:attualmente )?(?:fuori (?:sede|ufficio)|in ferie|assente)"
    r"|estou (?:ausente|fora do escritório|de férias)"
    r"|不在にしております|不在です|休暇を(?:いただいて|取得して)",
    re.IGNORECASE,
)
TEMPLATE_TEXT = re.compile(
    r"limited (?:access to|ability to (?:check|read)) (?:my )?e-?mails?"
    r"|(?:no|without) access to (?:my )?e-?mails?"
    r"|(?:respond|reply|get back to you|answer|attend to (?:it|your (?:e-?mail|message)))"
    r" (?:to (?:your|it) )?(?:e-?mail |message )?(?:as soon as possible )?(?:up)?on my return"
    r"|(?:upon|on|after) my return|when i return"
    r"|for (?:urgent|immediate|anything urgent|pressing)"
    r" (?:matters|assistance|issues|requests|enquiries|inquiries|questions)?"
    r"|in (?:case of )?urgen(?:t cases|cy)|if (?:it is|this is|your (?:matter|message) is) urgent"
    r"|please contact (?:my colleague|my team|our team|\S+@\S+)"
    r"|(?:your|this) (?:e-?mail|message) (?:will not|won't) be (?:forwarded|read)"
    r"|this is an automat(?:ic|ed) (?:reply|response|message|notification)"
    r"|automatic(?:ally generated)? (?:reply|response)"
    r"|thank you for your (?:e-?mail|message)\.? (?:i am|i'm)"
    r"|in dringenden fällen|bei dringenden (?:anliegen|fragen)|nach meiner rückkehr"
    r"|ihre (?:e-?mail|nachricht) wird nicht weitergeleitet|automatische antwort"
    r"|keinen zugriff auf (?:meine )?e-?mails"
    r"|en cas d'urgence|à mon retour|réponse automatique"
    r"|accès limité à (?:mes|ma) (?:e-?mails?|messagerie)"
    r"|en caso de urgencia|a mi regreso|a mi vuelta|respuesta automática|acceso limitado al correo"
    r"|voor dringende zaken|bij dringende zaken|na mijn terugkeer|automatisch antwoord"
    r"|beperkt toegang tot (?:mijn )?e-?mail"
    r"|per (?:questioni|comunicazioni|necessità) urgenti|al mio rientro|risposta automatica"
    r"|accesso limitato alla posta"
    r"|em caso de urgência|no meu regresso|quando (?:eu )?regressar|resposta automática"
    r"|acesso limitado ao e-?mail"
    r"|自動返信|自動応答|メールを確認(?:することが)?できません|返信が遅れ|ご不便をおかけ",
    re.IGNORECASE,
)
# A message that declares itself automatic.
SELF_DECLARED_AUTO = re.compile(
    r"this is an automat(?:ic|ed) (?:reply|response|message|notification)"
    r"|automatically generated|do not reply to this (?:e-?mail|message)"
    r"|dies ist eine automatische|automatisch generiert|ceci est une réponse automatique"
    r"|esta es una respuesta automática|dit is een automatisch|questa è una risposta automatica"
    r"|esta é uma resposta automática|このメールは自動",
    re.IGNORECASE,
)

# Challenge-response ("please verify you are human") systems: vendor markers are enough;
# the wording alone only with an automation header or a system sender.
CHALLENGE_VENDOR = re.compile(
    r"spam ?arrest|boxbe|mailchannels|sender ?verification|\bchallenge[- ]response\b|"
    r"guest list|verificación de remitente|absenderbestätigung|absenderverifizierung",
    re.IGNORECASE,
)
CHALLENGE_WORDS = re.compile(
    r"please (?:verify|confirm) (?:that )?(?:you|your (?:e-?mail|address|message))|"
    r"verify (?:your|that you are)|confirm (?:that )?you are (?:a )?(?:human|real person)|"
    r"awaiting (?:your )?(?:verification|confirmation)|bitte bestätigen sie|"
    r"click (?:the|this) link (?:below )?to (?:verify|confirm|be added)",
    re.IGNORECASE,
)

# Ticket systems' acknowledgements ("we received your request, ticket #4821"): automatic, but
# an agent's answer says similar things, so classify wants a ticket number and no reply prefix.
ACK_TEXT = re.compile(
    r"we(?:'ve| have)? (?:successfully )?received your (?:request|message|e-?mail|enquiry"
    r"|inquiry|ticket|support request)"
    r"|your (?:request|ticket|case|message|enquiry|inquiry) (?:has been|was|is) (?:received"
    r"|created|logged|opened|registered)"
    r"|a (?:support )?(?:ticket|case) has been (?:created|opened)"
    r"|wir haben ihre (?:anfrage|nachricht|e-?mail) erhalten"
    r"|nous avons (?:bien )?reçu votre (?:demande|message|e-?mail|courriel)"
    r"|hemos recibido (?:su|tu) (?:solicitud|mensaje|correo|consulta)"
    r"|wij hebben uw (?:verzoek|bericht|aanvraag|e-?mail) ontvangen"
    r"|abbiamo ricevuto la (?:sua|tua) (?:richiesta|e-?mail|mail)"
    r"|recebemos (?:a )?(?:sua|tua) (?:solicitação|mensagem|pedido)",
    re.IGNORECASE,
)
TICKET_REF = re.compile(
    r"(?:ticket|case|request|anfrage|vorgang|demande|solicitud|caso|chamado|richiesta|verzoek)"
    r"\s*(?:#|no\.?|nr\.?|number|id|n[º°o]\.?)?\s*[:#]?\s*[A-Z]{0,4}-?\d{3,}"
    r"|\[#?\d{3,}\]|#\d{4,}",
    re.IGNORECASE,
)
