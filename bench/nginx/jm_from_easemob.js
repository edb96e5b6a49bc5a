// JMessage's "get user" answered from Easemob: the user, then its metadata,
// merged into a JMessage user object (times as JMessage writes them, UTC+8).

function jmTime(ms) {
    return new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

function fail(r, status, code, message) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(status, JSON.stringify({error: {code: code, message: message}}));
}

async function user(r) {
    if (r.headersIn.Authorization !== r.variables.jm_auth) {
        return fail(r, 401, 899008, 'Basic authentication failed');
    }
    var name = r.uri.substring('/v1/users/'.length).toLowerCase();
    var u = await r.subrequest('/_em/users/' + name);
    if (u.status === 404) {
        return fail(r, 403, 899002, 'user not exist');
    }
    if (u.status !== 200) {
        return fail(r, 500, 899000, 'server error');
    }
    var m = await r.subrequest('/_em/metadata/user/' + name);
    var entity = JSON.parse(u.responseText).entities[0];
    var data = (m.status === 200 && JSON.parse(m.responseText).data) || {};
    var out = {username: entity.username};
    var nickname = data.nickname || entity.nickname;
    if (nickname) { out.nickname = nickname; }
    if (data.avatarurl) { out.avatar = data.avatarurl; }
    if (data.birth) { out.birthday = data.birth.length === 10 ? data.birth + ' 00:00:00' : data.birth; }
    if (data.gender) { out.gender = parseInt(data.gender, 10); }
    if (data.sign) { out.signature = data.sign; }
    if (data.region) { out.region = data.region; }
    if (data.address) { out.address = data.address; }
    out.mtime = jmTime(entity.modified);
    out.ctime = jmTime(entity.created);
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, JSON.stringify(out));
}

export default {user};
